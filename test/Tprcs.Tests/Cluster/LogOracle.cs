using Tprcs.Contracts;
using Tprcs.Grains.Domain;
using Tprcs.Grains.Elections;
using Tprcs.Grains.Storage;

namespace Tprcs.Tests.Cluster;

/// <summary>
/// Recomputes every area's totals from scratch from the submission log, independently of the area
/// grains: each unit's tally is added to every one of its ancestors by walking parent links.
/// </summary>
public static class LogOracle
{
    public sealed record Expected(Dictionary<string, Tally> Areas, Dictionary<string, Tally> Units, int Rows);

    public static async Task<Expected> ComputeAsync(ISubmissionLog log, Election election)
    {
        var parties = election.Parties.Count;
        var units = new Dictionary<string, Tally>(StringComparer.Ordinal);
        var rows = 0;
        UnitLedger? ledger = null;
        await foreach (var row in log.ReadAllAsync(election.Id))
        {
            rows++;
            if (ledger?.Unit.Code != row.PollingUnit)
            {
                Assert.True(election.TryGetArea(row.PollingUnit, out var unit), $"log row for unknown unit {row.PollingUnit}");
                ledger = new UnitLedger(election, unit);
            }

            ledger.Apply(row);
            units[row.PollingUnit] = ledger.Tally;
        }

        var sums = new Dictionary<string, List<Tally>>(StringComparer.Ordinal);
        foreach (var unit in AllUnits(election))
        {
            var tally = units.TryGetValue(unit.Code, out var t) ? t : TallyMath.Empty(parties, unit.RegisteredVoters, 1);
            for (var parent = unit.Parent; parent is not null; parent = Parent(election, parent))
            {
                (sums.TryGetValue(parent, out var list) ? list : sums[parent] = []).Add(tally);
            }
        }

        return new Expected(sums.ToDictionary(kv => kv.Key, kv => TallyMath.Sum(parties, kv.Value)), units, rows);
    }

    public static IEnumerable<AreaRef> AllAreas(Election election)
    {
        var queue = new Queue<AreaRef>([election.Root]);
        while (queue.TryDequeue(out var area))
        {
            if (area.IsPollingUnit)
            {
                continue;
            }

            yield return area;
            foreach (var child in election.ChildrenOf(area.Code))
            {
                queue.Enqueue(child);
            }
        }
    }

    public static IEnumerable<AreaRef> AllUnits(Election election) =>
        AllAreas(election).SelectMany(a => election.ChildrenOf(a.Code)).Where(c => c.IsPollingUnit);

    private static string? Parent(Election election, string code) =>
        election.TryGetArea(code, out var area) ? area.Parent : null;

    /// <summary>Asserts that one area's published document equals the oracle, totals and every row.</summary>
    public static void AssertMatches(Expected expected, Election election, FeedSnapshot snapshot)
    {
        var code = snapshot.Area.Code;
        Assert.True(TallyMath.Same(expected.Areas[code], snapshot.Totals),
            $"area {code}: totals differ from the log (votes {string.Join(",", snapshot.Totals.Votes)} vs {string.Join(",", expected.Areas[code].Votes)})");
        foreach (var row in snapshot.Rows)
        {
            var want = election.TryGetArea(row.Code, out var child) && child.IsPollingUnit
                ? expected.Units.GetValueOrDefault(row.Code) ?? TallyMath.Empty(election.Parties.Count, child.RegisteredVoters, 1)
                : expected.Areas[row.Code];
            Assert.True(TallyMath.Same(want, row.Tally), $"area {code}: row {row.Code} differs from the log");
        }
    }
}
