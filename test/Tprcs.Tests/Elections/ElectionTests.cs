using Tprcs.Grains.Elections;

namespace Tprcs.Tests.Elections;

public class ElectionTests
{
    private readonly Election _election = ElectionLoader.LoadJson(SmallElection.Json);

    [Fact]
    public void Keeps_the_header_levels_and_parties_in_order()
    {
        Assert.Equal("Edo governorship election 2024", _election.Name);
        Assert.Equal("governorship", _election.Contest);
        Assert.Equal(["state", "lga", "ward", "polling-unit"], _election.Levels);
        Assert.Equal(["APC", "PDP", "LP"], _election.Parties.Select(p => p.Code));
        Assert.Equal("All Progressives Congress", _election.Parties[0].Name);
    }

    [Fact]
    public void Finds_a_party_by_its_exact_code()
    {
        Assert.Equal(0, _election.PartyIndex("APC"));
        Assert.Equal(2, _election.PartyIndex("LP"));
        Assert.Equal(-1, _election.PartyIndex("apc"));
        Assert.Equal(-1, _election.PartyIndex("NNPP"));
    }

    [Fact]
    public void The_root_holds_the_registered_voters_of_every_unit()
    {
        var root = _election.Root;

        Assert.Equal("ED", root.Code);
        Assert.Null(root.Parent);
        Assert.False(root.IsPollingUnit);
        Assert.Equal(SmallElection.RegisteredVoters, root.RegisteredVoters);
        Assert.Equal(SmallElection.RegisteredVoters, _election.RegisteredVoters);
    }

    [Fact]
    public void An_area_holds_the_sum_of_its_units_and_a_unit_its_own_figure()
    {
        Assert.True(_election.TryGetArea("ED/01", out var lga));
        Assert.Equal(1_012, lga.RegisteredVoters);
        Assert.Equal("lga", lga.Level);
        Assert.Equal("ED", lga.Parent);

        Assert.True(_election.TryGetArea("ED/01/01/001", out var unit));
        Assert.True(unit.IsPollingUnit);
        Assert.Equal(512, unit.RegisteredVoters);
        Assert.Equal("polling-unit", unit.Level);
        Assert.Equal("ED/01/01", unit.Parent);
        Assert.Equal("PU 001 Primary School", unit.Name);
    }

    [Fact]
    public void Does_not_find_an_unknown_code()
    {
        Assert.False(_election.TryGetArea("ED/09", out var area));
        Assert.Null(area);
        Assert.False(_election.TryGetArea("ed", out _));
    }

    [Fact]
    public void Lists_children_with_their_level()
    {
        Assert.Equal(["ED/01", "ED/02"], _election.ChildrenOf("ED").Select(a => a.Code));
        Assert.Equal(["ED/01/01/001", "ED/01/01/002"], _election.ChildrenOf("ED/01/01").Select(a => a.Code));
        Assert.Equal("lga", _election.ChildLevelOf("ED"));
        Assert.Equal("polling-unit", _election.ChildLevelOf("ED/02/01"));
    }

    [Fact]
    public void A_unit_has_no_children_and_no_child_level()
    {
        Assert.Empty(_election.ChildrenOf("ED/01/01/001"));
        Assert.Null(_election.ChildLevelOf("ED/01/01/001"));
    }

    [Fact]
    public void An_unknown_code_has_no_children_to_ask_about()
    {
        Assert.Throws<KeyNotFoundException>(() => _election.ChildrenOf("ED/09"));
        Assert.Throws<KeyNotFoundException>(() => _election.ChildLevelOf("ED/09"));
    }

    [Fact]
    public void Children_keep_definition_order_even_when_listed_before_their_parent()
    {
        var def = SmallElection.Definition();
        var lga = def.Area("ED/02");
        def.Areas.Remove(lga);
        def.Areas.Add(lga);
        var first = def.Area("ED/01/02");
        def.Areas.Remove(first);
        def.Areas.Insert(0, first);

        var election = ElectionLoader.Load(def);

        Assert.Equal(["ED/01", "ED/02"], election.ChildrenOf("ED").Select(a => a.Code));
        Assert.Equal(["ED/01/02", "ED/01/01"], election.ChildrenOf("ED/01").Select(a => a.Code));
        Assert.Equal(SmallElection.RegisteredVoters, election.RegisteredVoters);
    }

    [Fact]
    public void Children_cannot_be_changed_by_a_caller()
    {
        var children = _election.ChildrenOf("ED");

        Assert.Throws<NotSupportedException>(() => ((IList<Tprcs.Contracts.AreaRef>)children)[0] = _election.Root);
    }

    [Fact]
    public void Summarises_the_election()
    {
        var summary = _election.Summary;

        Assert.Equal("edo-2024-gov", summary.Id);
        Assert.Equal("ED", summary.RootArea);
        Assert.Equal(4, summary.PollingUnits);
        Assert.Equal(4, _election.PollingUnitCount);
        Assert.Equal(SmallElection.RegisteredVoters, summary.RegisteredVoters);
        Assert.Equal(["state:1", "lga:2", "ward:3", "polling-unit:4"], summary.Counts.Select(c => $"{c.Level}:{c.Areas}"));
        Assert.Equal(["APC", "PDP", "LP"], summary.Parties.Select(p => p.Code));
    }
}
