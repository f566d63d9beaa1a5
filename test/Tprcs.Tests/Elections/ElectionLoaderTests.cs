using Tprcs.Grains.Elections;

namespace Tprcs.Tests.Elections;

public class ElectionLoaderTests
{
    private static ElectionDefinitionException Refuse(Action<ElectionDefinition> breakIt, params string[] expected)
    {
        var def = SmallElection.Definition();
        breakIt(def);
        var ex = Assert.Throws<ElectionDefinitionException>(() => ElectionLoader.Load(def));
        foreach (var problem in expected)
        {
            Assert.Contains(problem, ex.Problems);
            Assert.Contains(problem, ex.Message);
        }

        return ex;
    }

    [Fact]
    public void The_small_definition_loads()
    {
        var election = ElectionLoader.LoadJson(SmallElection.Json);

        Assert.Equal("edo-2024-gov", election.Id);
        Assert.Equal(4, election.PollingUnitCount);
        Assert.Equal(SmallElection.RegisteredVoters, election.RegisteredVoters);
    }

    [Theory]
    [InlineData("Edo-2024", "Edo-2024")]
    [InlineData("edo 2024", "edo 2024")]
    [InlineData("-edo", "-edo")]
    [InlineData("edo/2024", "edo/2024")]
    [InlineData("edo\n", @"edo\u000a")]
    [InlineData("a1234567890123456789012345678901234567890123456789012345678901234", "a1234567890123456789012345678901234567890123456789012345678901234")]
    public void Refuses_a_bad_id(string id, string shown)
    {
        var ex = Refuse(d => d.Id = id);

        Assert.Equal([$"id '{shown}': must be 1 to 64 lower-case letters, digits or '-', starting with a letter or digit"], ex.Problems);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("0-x")]
    [InlineData("a123456789012345678901234567890123456789012345678901234567890123")]
    public void Accepts_a_good_id(string id)
    {
        var def = SmallElection.Definition();
        def.Id = id;

        Assert.Equal(id, ElectionLoader.Load(def).Id);
    }

    [Fact]
    public void Refuses_a_missing_id_name_or_contest() =>
        Refuse(d => (d.Id, d.Name, d.Contest) = ("", " ", ""), "id: missing", "name: missing", "contest: missing");

    [Fact]
    public void Refuses_fewer_than_two_levels()
    {
        var ex = Refuse(d => d.Levels = ["polling-unit"], "levels: 1 given, at least 2 needed (an area level and the polling-unit level)");

        Assert.Contains("area 'ED': unknown level 'state'", ex.Problems);
    }

    [Fact]
    public void Refuses_duplicate_level_names() =>
        Refuse(d => d.Levels = ["state", "ward", "ward", "polling-unit"], "level 'ward': duplicate level name");

    [Fact]
    public void Refuses_an_election_without_parties() =>
        Refuse(d => d.Parties.Clear(), "parties: none listed");

    [Fact]
    public void Refuses_duplicate_party_codes() =>
        Refuse(d => d.Parties.Add(new PartyDefinition { Code = "APC", Name = "Again" }), "party 'APC': duplicate party code");

    [Theory]
    [InlineData("A P C")]
    [InlineData("-APC")]
    [InlineData("APC/2")]
    [InlineData("ABCDEFGHIJKLMNOPQ")]
    public void Refuses_a_bad_party_code(string code) =>
        Refuse(
            d => d.Parties[0].Code = code,
            $"party '{code}': code must be 1 to 16 letters, digits or '-', starting with a letter or digit");

    [Fact]
    public void Party_codes_are_case_sensitive_and_may_hold_digits_and_dashes()
    {
        var def = SmallElection.Definition();
        def.Parties.Add(new PartyDefinition { Code = "apc", Name = "Lower case" });
        def.Parties.Add(new PartyDefinition { Code = "A-1234567890ABCD", Name = "Sixteen" });

        Assert.Equal(5, ElectionLoader.Load(def).Parties.Count);
    }

    [Fact]
    public void Refuses_an_empty_area_code() =>
        Refuse(d => d.Areas[3].Code = "", "areas[3]: missing code");

    [Fact]
    public void Refuses_an_area_code_longer_than_64()
    {
        var code = "ED/01/01/" + new string('9', 56);
        var ex = Refuse(d => d.Area("ED/01/01/001").Code = code, $"area '{code}': code longer than 64 characters");

        Assert.Single(ex.Problems);
    }

    [Theory]
    [InlineData("ED/01/01/ 001", "ED/01/01/ 001")]
    [InlineData("ED/01/01/\u00a0001", "ED/01/01/\u00a0001")]
    [InlineData("ED/01/01/001\r\n", @"ED/01/01/001\u000d\u000a")]
    public void Refuses_an_area_code_with_whitespace(string code, string shown) =>
        Refuse(d => d.Area("ED/01/01/001").Code = code, $"area '{shown}': code contains whitespace");

    [Fact]
    public void Refuses_a_duplicate_area_code() =>
        Refuse(
            d => d.Areas.Add(SmallElection.Unit("ED/01/01/001", "ED/01/01")),
            "area 'ED/01/01/001': duplicate area code (first at areas[3])");

    [Fact]
    public void Refuses_an_unknown_level()
    {
        var ex = Refuse(d => d.Area("ED/02").Level = "county", "area 'ED/02': unknown level 'county'");

        Assert.Single(ex.Problems);
    }

    [Fact]
    public void Refuses_an_unknown_parent()
    {
        var ex = Refuse(
            d =>
            {
                d.Areas.Add(SmallElection.Ward("ED/01/99", "ED/01/98"));
                d.Areas.Add(SmallElection.Unit("ED/01/99/001", "ED/01/99"));
            },
            "area 'ED/01/99': unknown parent 'ED/01/98'");

        Assert.Single(ex.Problems);
    }

    [Fact]
    public void Refuses_more_than_one_root()
    {
        var ex = Refuse(
            d =>
            {
                d.Areas.Add(new AreaDefinition { Code = "LA", Name = "Lagos", Level = "state" });
                d.Areas.Add(new AreaDefinition { Code = "LA/01", Name = "Agege", Level = "lga", Parent = "LA" });
                d.Areas.Add(SmallElection.Ward("LA/01/01", "LA/01"));
                d.Areas.Add(SmallElection.Unit("LA/01/01/001", "LA/01/01"));
            },
            "areas: 2 roots (areas without parent): 'ED', 'LA'; exactly one is needed");

        Assert.Single(ex.Problems);
    }

    [Fact]
    public void Refuses_a_definition_without_root() =>
        Refuse(
            d => d.Area("ED").Parent = "ED/02/01/001",
            "areas: no root (an area without parent); exactly one is needed",
            "area 'ED': cycle in parents: 'ED' -> 'ED/02/01/001' -> 'ED/02/01' -> 'ED/02' -> 'ED'");

    [Fact]
    public void Refuses_a_root_below_the_first_level()
    {
        var ex = Refuse(
            d =>
            {
                d.Areas.RemoveAt(0);
                d.Areas.Add(new AreaDefinition { Code = "ED", Name = "Edo", Level = "lga" });
            },
            "area 'ED': the root must be at the first level 'state', not 'lga'");

        Assert.Contains(ex.Problems, p => p.StartsWith("area 'ED/01': levels out of order", StringComparison.Ordinal));
    }

    [Fact]
    public void Refuses_levels_out_of_order()
    {
        var ex = Refuse(
            d => d.Area("ED/01/02").Parent = "ED",
            "area 'ED/01/02': levels out of order: level 'ward' under parent 'ED' at level 'state', expected level 'lga'");

        Assert.Single(ex.Problems);
    }

    [Fact]
    public void Refuses_an_area_under_a_polling_unit() =>
        Refuse(
            d => d.Areas.Add(SmallElection.Unit("ED/01/01/001/A", "ED/01/01/001")),
            "area 'ED/01/01/001/A': levels out of order: level 'polling-unit' under parent 'ED/01/01/001' at level 'polling-unit', which has no level below it");

    [Fact]
    public void Refuses_a_cycle_in_parents_and_says_so()
    {
        var ex = Refuse(
            d =>
            {
                d.Areas.Add(SmallElection.Ward("ED/01/08", "ED/01/09"));
                d.Areas.Add(SmallElection.Ward("ED/01/09", "ED/01/08"));
            },
            "area 'ED/01/08': cycle in parents: 'ED/01/08' -> 'ED/01/09' -> 'ED/01/08'");

        Assert.Single(ex.Problems, p => p.Contains("cycle", StringComparison.Ordinal));
    }

    [Fact]
    public void Refuses_an_area_that_is_its_own_parent() =>
        Refuse(d => d.Area("ED/02/01").Parent = "ED/02/01", "area 'ED/02/01': cycle in parents: 'ED/02/01' -> 'ED/02/01'");

    [Fact]
    public void Shortens_a_long_cycle()
    {
        var ex = Refuse(d =>
        {
            for (var i = 0; i < 12; i++)
            {
                d.Areas.Add(SmallElection.Ward($"X{i}", $"X{(i + 1) % 12}"));
            }
        });

        Assert.Contains("area 'X0': cycle in parents: 'X0' -> 'X1' -> 'X2' -> 'X3' -> 'X4' -> 'X5' -> 'X6' -> 'X7' -> 'X8' -> 'X9' -> ... (12 areas)", ex.Problems);
    }

    [Fact]
    public void Refuses_a_polling_unit_without_registered_voters() =>
        Refuse(d => d.Area("ED/01/01/002").RegisteredVoters = null, "area 'ED/01/01/002': polling unit without registeredVoters");

    [Theory]
    [InlineData(-1)]
    [InlineData(100_001)]
    [InlineData(long.MaxValue)]
    public void Refuses_registered_voters_out_of_range(long voters) =>
        Refuse(
            d => d.Area("ED/01/01/002").RegisteredVoters = voters,
            $"area 'ED/01/01/002': registeredVoters {voters} out of range 0..100000");

    [Theory]
    [InlineData(0)]
    [InlineData(100_000)]
    public void Accepts_registered_voters_at_the_bounds(long voters)
    {
        var def = SmallElection.Definition();
        def.Area("ED/02/01/001").RegisteredVoters = voters;

        Assert.Equal(SmallElection.RegisteredVoters - 100 + voters, ElectionLoader.Load(def).RegisteredVoters);
    }

    [Fact]
    public void Refuses_registered_voters_on_an_area() =>
        Refuse(
            d => d.Area("ED/01").RegisteredVoters = 812,
            "area 'ED/01': registeredVoters given on a non-unit area (level 'lga'); an area's figure is the sum of its units");

    [Fact]
    public void Refuses_an_area_above_the_unit_level_without_children() =>
        Refuse(
            d => d.Areas.Remove(d.Area("ED/01/02/001")),
            "area 'ED/01/02': no children (an area above the 'polling-unit' level needs at least one)");

    [Fact]
    public void Refuses_a_definition_without_areas() =>
        Refuse(d => d.Areas.Clear(), "areas: none listed");

    [Fact]
    public void Reports_every_problem_up_to_twenty_and_counts_the_rest()
    {
        var ex = Refuse(d =>
        {
            for (var i = 0; i < 30; i++)
            {
                d.Areas.Add(SmallElection.Unit($"ED/02/01/{100 + i}", "ED/02/01", voters: -5));
            }
        });

        Assert.Equal(30, ex.ProblemCount);
        Assert.Equal(ElectionLoader.MaxReportedProblems, ex.Problems.Count);
        var lines = ex.Message.Split('\n');
        Assert.Equal("Election definition has 30 problems:", lines[0]);
        Assert.Equal("area 'ED/02/01/100': registeredVoters -5 out of range 0..100000", lines[1]);
        Assert.Equal("... and 10 more", lines[^1]);
        Assert.Equal(22, lines.Length);
    }

    [Fact]
    public void One_broken_area_does_not_cascade_to_its_descendants()
    {
        var ex = Refuse(d =>
        {
            d.Area("ED/01").Code = "ED/ 01";
            d.Area("ED/01/01").Parent = "ED/ 01";
            d.Area("ED/01/02").Parent = "ED/ 01";
        });

        Assert.Equal(["area 'ED/ 01': code contains whitespace"], ex.Problems);
    }

    [Fact]
    public void Refuses_malformed_json()
    {
        var ex = Assert.Throws<ElectionDefinitionException>(() => ElectionLoader.ParseJson("{\"id\": \"x\",\n"));

        Assert.Equal(["JSON at $ (line 2): Expected start of a property name or value, but instead reached end of data."], ex.Problems);
    }

    [Fact]
    public void Refuses_a_misspelt_field_and_names_it()
    {
        var json = SmallElection.Json.Replace("\"registeredVoters\": 300", "\"registeredVoter\": 300", StringComparison.Ordinal);

        var ex = Assert.Throws<ElectionDefinitionException>(() => ElectionLoader.ParseJson(json));

        Assert.StartsWith("JSON at $.areas[4].registeredVoter (line 17): The JSON property 'registeredVoter' could not be mapped", Assert.Single(ex.Problems));
    }

    [Fact]
    public void Refuses_null_where_a_value_is_required_and_names_the_field()
    {
        var json = SmallElection.Json.Replace("\"name\": \"Edo governorship election 2024\"", "\"name\": null", StringComparison.Ordinal);

        var ex = Assert.Throws<ElectionDefinitionException>(() => ElectionLoader.ParseJson(json));

        Assert.StartsWith("JSON at $.name (line 4): The property or field 'name'", Assert.Single(ex.Problems));
    }

    [Fact]
    public void Refuses_a_wrongly_typed_figure()
    {
        var json = SmallElection.Json.Replace("\"registeredVoters\": 300", "\"registeredVoters\": \"300\"", StringComparison.Ordinal);

        var ex = Assert.Throws<ElectionDefinitionException>(() => ElectionLoader.ParseJson(json));

        Assert.Equal(["JSON at $.areas[4].registeredVoters (line 17): The JSON value could not be converted to System.Nullable`1[System.Int64]."], ex.Problems);
    }

    [Fact]
    public void Refuses_a_null_area_entry()
    {
        var json = SmallElection.Json.Replace("\"areas\": [", "\"areas\": [null,", StringComparison.Ordinal);

        var ex = Assert.Throws<ElectionDefinitionException>(() => ElectionLoader.LoadJson(json));

        Assert.Equal(["areas[0]: missing code"], ex.Problems);
    }

    [Fact]
    public void Names_the_file_it_could_not_load()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tprcs-broken-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, SmallElection.Json.Replace("\"contest\": \"governorship\"", "\"contest\": \"\"", StringComparison.Ordinal));
        try
        {
            var ex = Assert.Throws<ElectionDefinitionException>(() => ElectionLoader.LoadFile(path));

            Assert.Equal($"Election definition '{path}' has 1 problem:\ncontest: missing", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
