using Tprcs.Grains.Elections;

namespace Tprcs.Tests.Elections;

public class ElectionCatalogTests
{
    private static Election Small(string id)
    {
        var def = SmallElection.Definition();
        def.Id = id;
        return ElectionLoader.Load(def);
    }

    [Fact]
    public void Holds_several_elections_side_by_side()
    {
        var catalog = new ElectionCatalog();
        var edo = ElectionLoader.Load(ElectionGenerator.Edo());
        var small = Small("small-2024");

        catalog.Add(edo);
        catalog.Add(small);

        Assert.True(catalog.TryGet("edo-2024-gov", out var found));
        Assert.Same(edo, found);
        Assert.True(catalog.TryGet("small-2024", out found));
        Assert.Same(small, found);
        Assert.Equal(["edo-2024-gov", "small-2024"], catalog.All.Select(e => e.Id));
    }

    [Fact]
    public void Does_not_find_an_election_that_was_not_loaded()
    {
        var catalog = new ElectionCatalog();
        catalog.Add(Small("edo-2024-gov"));

        Assert.False(catalog.TryGet("ondo-2024-gov", out var election));
        Assert.Null(election);
        Assert.False(catalog.TryGet("EDO-2024-GOV", out _));
    }

    [Fact]
    public void Refuses_a_second_election_with_the_same_id()
    {
        var catalog = new ElectionCatalog();
        catalog.Add(Small("edo-2024-gov"));

        var ex = Assert.Throws<InvalidOperationException>(() => catalog.Add(Small("edo-2024-gov")));

        Assert.Contains("'edo-2024-gov'", ex.Message);
        Assert.Single(catalog.All);
    }

    [Fact]
    public async Task Readers_see_whole_snapshots_while_elections_are_added()
    {
        var catalog = new ElectionCatalog();
        var elections = Enumerable.Range(0, 40).Select(i => Small($"e-{i}")).ToList();

        var readers = Task.Run(() =>
        {
            while (catalog.All.Count < elections.Count)
            {
                foreach (var e in catalog.All)
                {
                    Assert.True(catalog.TryGet(e.Id, out _));
                }
            }
        });
        Parallel.ForEach(elections, catalog.Add);
        await readers.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(elections.Select(e => e.Id).Order(), catalog.All.Select(e => e.Id).Order());
    }
}
