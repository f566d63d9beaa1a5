using System.Text.RegularExpressions;
using Tprcs.Contracts;
using Tprcs.Grains.Elections;

namespace Tprcs.Tests.Elections;

/// <summary>Generating Nigeria takes about a second, so the tests share one copy.</summary>
public sealed class NigeriaFixture
{
    public NigeriaFixture()
    {
        Definition = ElectionGenerator.Nigeria();
        Json = ElectionGenerator.ToJson(Definition);
        Election = ElectionLoader.LoadJson(Json);
    }

    public ElectionDefinition Definition { get; }

    public string Json { get; }

    public Election Election { get; }
}

public class ElectionGeneratorTests(NigeriaFixture nigeria) : IClassFixture<NigeriaFixture>
{
    [Fact]
    public void Nigeria_has_the_real_counts_at_every_level()
    {
        Assert.Equal(
            ["nation:1", "state:37", "lga:774", "ward:8809", "polling-unit:176846"],
            nigeria.Election.Summary.Counts.Select(c => $"{c.Level}:{c.Areas}"));
        Assert.Equal("ng-2027-pres", nigeria.Election.Id);
        Assert.Equal("presidential", nigeria.Election.Contest);
        Assert.Equal("NG", nigeria.Election.Root.Code);
    }

    [Fact]
    public void Nigeria_has_the_real_states_and_their_lga_counts()
    {
        var states = nigeria.Election.ChildrenOf("NG");

        Assert.Equal(37, states.Count);
        Assert.Contains(states, s => s is { Code: "KN", Name: "Kano" });
        Assert.Contains(states, s => s is { Code: "LA", Name: "Lagos" });
        Assert.Contains(states, s => s is { Code: "FC", Name: "Federal Capital Territory" });
        Assert.Equal(44, nigeria.Election.ChildrenOf("KN").Count);
        Assert.Equal(20, nigeria.Election.ChildrenOf("LA").Count);
        Assert.Equal(6, nigeria.Election.ChildrenOf("FC").Count);
        Assert.Equal(8, nigeria.Election.ChildrenOf("BY").Count);
    }

    [Fact]
    public void Nigeria_has_the_2023_parties()
    {
        Assert.Equal(
            ["A", "AA", "AAC", "ADC", "ADP", "APC", "APGA", "APM", "APP", "BP", "LP", "NNPP", "NRM", "PDP", "PRP", "SDP", "YPP", "ZLP"],
            nigeria.Election.Parties.Select(p => p.Code));
        Assert.Equal("New Nigeria Peoples Party", nigeria.Election.Parties[nigeria.Election.PartyIndex("NNPP")].Name);
    }

    [Fact]
    public void Nigeria_codes_follow_the_hierarchy()
    {
        Assert.True(nigeria.Election.TryGetArea("KN/01/05/003", out var unit));
        Assert.Equal("KN/01/05", unit.Parent);
        Assert.True(nigeria.Election.TryGetArea("KN/01/05", out var ward));
        Assert.Equal("KN/01", ward.Parent);

        var unitCode = new Regex(@"\A[A-Z]{2}/\d{2}/\d{2}/\d{3}\z");
        Assert.All(nigeria.Definition.Areas.Where(a => a.Level == "polling-unit"), a => Assert.Matches(unitCode, a.Code));
    }

    [Fact]
    public void Nigeria_unit_sizes_are_realistic()
    {
        var voters = nigeria.Definition.Areas.Where(a => a.RegisteredVoters is not null).Select(a => a.RegisteredVoters!.Value).ToList();

        Assert.All(voters, v => Assert.InRange(v, ElectionGenerator.MinUnitVoters, ElectionGenerator.MaxUnitVoters));
        Assert.InRange(voters.Count(v => v is >= 200 and <= 1_200) / (double)voters.Count, 0.8, 0.95);
        Assert.Contains(voters, v => v > 3_000);
        Assert.Contains(voters, v => v < 60);
        Assert.InRange(nigeria.Election.RegisteredVoters, 91_000_000, 95_000_000);
    }

    [Fact]
    public void Every_area_holds_the_sum_of_its_children()
    {
        var election = nigeria.Election;
        var units = nigeria.Definition.Areas.Where(a => a.Level == "polling-unit").Sum(a => a.RegisteredVoters!.Value);

        Assert.Equal(units, election.Root.RegisteredVoters);
        foreach (var area in nigeria.Definition.Areas.Where(a => a.Level != "polling-unit"))
        {
            Assert.True(election.TryGetArea(area.Code, out var loaded));
            Assert.Equal(loaded.RegisteredVoters, election.ChildrenOf(area.Code).Sum(c => c.RegisteredVoters));
        }
    }

    [Fact]
    public void Nigeria_is_the_same_for_the_same_seed_and_differs_for_another()
    {
        Assert.Equal(nigeria.Json, ElectionGenerator.ToJson(ElectionGenerator.Nigeria(2027)));
        Assert.NotEqual(nigeria.Json, ElectionGenerator.ToJson(ElectionGenerator.Nigeria(2028)));
    }

    [Fact]
    public void Edo_has_the_real_counts_and_register()
    {
        var edo = ElectionLoader.Load(ElectionGenerator.Edo());

        Assert.Equal("edo-2024-gov", edo.Id);
        Assert.Equal("governorship", edo.Contest);
        Assert.Equal(["state:1", "lga:18", "ward:192", "polling-unit:4519"], edo.Summary.Counts.Select(c => $"{c.Level}:{c.Areas}"));
        Assert.Equal(2_629_025, edo.RegisteredVoters);
        Assert.Equal(2_629_025, edo.Summary.RegisteredVoters);
        Assert.Equal(edo.RegisteredVoters, edo.ChildrenOf("ED").Sum(l => l.RegisteredVoters));
        Assert.Equal("ED", edo.Root.Code);
    }

    [Fact]
    public void Edo_has_its_real_lgas_and_about_seventeen_parties()
    {
        var edo = ElectionLoader.Load(ElectionGenerator.Edo());

        Assert.Contains(edo.ChildrenOf("ED"), l => l is { Code: "ED/12", Name: "Oredo" });
        Assert.Contains(edo.ChildrenOf("ED"), l => l.Name == "Akoko-Edo");
        Assert.Equal(17, edo.Parties.Count);
        Assert.All(["APC", "PDP", "LP"], p => Assert.NotEqual(-1, edo.PartyIndex(p)));
    }

    [Theory]
    [InlineData(2024)]
    [InlineData(1)]
    [InlineData(-7)]
    public void Edo_hits_the_register_exactly_for_any_seed(int seed)
    {
        var def = ElectionGenerator.Edo(seed);

        var units = def.Areas.Where(a => a.Level == "polling-unit").ToList();
        Assert.Equal(4_519, units.Count);
        Assert.Equal(2_629_025, units.Sum(a => a.RegisteredVoters!.Value));
        Assert.All(units, a => Assert.InRange(a.RegisteredVoters!.Value, ElectionGenerator.MinUnitVoters, ElectionGenerator.MaxUnitVoters));
    }

    [Fact]
    public void Edo_is_the_same_for_the_same_seed_and_differs_for_another()
    {
        Assert.Equal(ElectionGenerator.ToJson(ElectionGenerator.Edo(5)), ElectionGenerator.ToJson(ElectionGenerator.Edo(5)));
        Assert.NotEqual(ElectionGenerator.ToJson(ElectionGenerator.Edo(5)), ElectionGenerator.ToJson(ElectionGenerator.Edo(6)));
        Assert.Equal(ElectionGenerator.ToJson(ElectionGenerator.Edo()), ElectionGenerator.ToJson(ElectionGenerator.Create("edo", 2024)));
    }

    [Fact]
    public void Wards_and_units_are_spread_unevenly()
    {
        var edo = ElectionLoader.Load(ElectionGenerator.Edo());
        var wardsPerLga = edo.ChildrenOf("ED").Select(l => edo.ChildrenOf(l.Code).Count).ToList();
        var unitsPerWard = edo.ChildrenOf("ED").SelectMany(l => edo.ChildrenOf(l.Code)).Select(w => edo.ChildrenOf(w.Code).Count).ToList();

        Assert.True(wardsPerLga.Distinct().Count() > 1);
        Assert.All(wardsPerLga, n => Assert.InRange(n, 10, 20));
        Assert.True(unitsPerWard.Max() >= 2 * unitsPerWard.Min());
    }

    [Fact]
    public void Refuses_an_unknown_shape()
    {
        var ex = Assert.Throws<ArgumentException>(() => ElectionGenerator.Create("kano", 1));

        Assert.Contains("nigeria, edo", ex.Message);
    }

    [Fact]
    public void Edo_survives_a_round_trip_through_json()
    {
        var json = ElectionGenerator.ToJson(ElectionGenerator.Edo());

        var again = ElectionLoader.ParseJson(json);

        Assert.Equal(json, ElectionGenerator.ToJson(again));
        var election = ElectionLoader.Load(again);
        Assert.Equal(2_629_025, election.RegisteredVoters);
        Assert.DoesNotContain("\"registeredVoters\":null", json);
        Assert.DoesNotContain("\"parent\":null", json);
    }

    [Fact]
    public void Nigeria_survives_a_round_trip_through_a_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tprcs-ng-{Guid.NewGuid():N}.json");
        try
        {
            using (var file = File.Create(path))
            {
                ElectionGenerator.WriteJson(nigeria.Definition, file);
            }

            var loaded = ElectionLoader.LoadFile(path);

            Assert.Equal(nigeria.Json, File.ReadAllText(path));
            Assert.Equal(Describe(nigeria.Election.Summary), Describe(loaded.Summary));
            Assert.True(loaded.TryGetArea("KN/44/01/001", out var unit));
            Assert.True(nigeria.Election.TryGetArea("KN/44/01/001", out var same));
            Assert.Equal(same, unit);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Describe(ElectionSummary s) =>
        $"{s.Id}|{s.Name}|{s.Contest}|{string.Join(",", s.Levels)}|{string.Join(",", s.Parties.Select(p => p.Code + "=" + p.Name))}|" +
        $"{string.Join(",", s.Counts.Select(c => c.Level + "=" + c.Areas))}|{s.RootArea}|{s.PollingUnits}|{s.RegisteredVoters}";
}
