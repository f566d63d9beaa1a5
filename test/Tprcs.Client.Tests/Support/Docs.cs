using System.Collections.Immutable;

namespace Tprcs.Client.Tests.Support;

/// <summary>Builds feed documents and deltas for store tests: two parties, rows whose sum is the totals unless a test breaks it.</summary>
internal static class Docs
{
    public const string Feed = "edo-2024-gov/ED/01/01";
    public static readonly ImmutableArray<string> Parties = ["APC", "PDP"];

    public static Tally Tally(long apc, long pdp, long registered = 500, bool counted = true) => new(
        [apc, pdp],
        registered,
        counted ? apc + pdp + 5 : 0,
        counted ? 5 : 0,
        apc + pdp,
        counted ? apc + pdp + 5 : 0,
        new UnitCounts(1, counted ? 1 : 0, counted ? 1 : 0, 0),
        counted ? registered : 0,
        0,
        new FlagCounts(0, 0, 0, 0, 0, 0, 0));

    public static Tally Sum(IEnumerable<FeedRow> rows)
    {
        var list = rows.ToList();
        return new Tally(
            [list.Sum(r => r.Tally.Votes[0]), list.Sum(r => r.Tally.Votes[1])],
            list.Sum(r => r.Tally.RegisteredVoters),
            list.Sum(r => r.Tally.AccreditedVoters),
            list.Sum(r => r.Tally.Rejected),
            list.Sum(r => r.Tally.TotalValid),
            list.Sum(r => r.Tally.TotalCast),
            new UnitCounts(list.Sum(r => r.Tally.Units.Total), list.Sum(r => r.Tally.Units.Reported), list.Sum(r => r.Tally.Units.Counted), list.Sum(r => r.Tally.Units.Cancelled)),
            list.Sum(r => r.Tally.RegisteredCovered),
            list.Sum(r => r.Tally.RegisteredCancelled),
            new FlagCounts(0, 0, 0, 0, 0, 0, 0));
    }

    public static FeedRow Row(int n, long apc = 0, long pdp = 0, long version = 0) =>
        new($"ED/01/01/{n:000}", $"PU {n:000}", version, Tally(apc, pdp, counted: apc + pdp > 0), apc + pdp > 0 ? "counted" : "missing");

    public static FeedDocument Snapshot(string epoch, long seq, long version, params FeedRow[] rows)
    {
        rows = rows.Length > 0 ? rows : [Row(1), Row(2), Row(3)];
        return new FeedDocument("edo-2024-gov", new AreaInfo("ED/01/01", "Ward 01", "ward", 1500, "ED/01"), "polling-unit",
            Parties, epoch, seq, version, Sum(rows), [.. rows], DateTimeOffset.UnixEpoch.AddSeconds(seq), false);
    }

    /// <summary>The delta that changes <paramref name="changed"/> rows of <paramref name="from"/>, with totals that add up.</summary>
    public static FeedDelta Delta(FeedDocument from, long seq, long version, params FeedRow[] changed)
    {
        var rows = from.Rows.Select(r => changed.FirstOrDefault(c => c.Code == r.Code) ?? r).ToList();
        return new FeedDelta(from.Epoch, seq, version, Sum(rows), [.. changed], DateTimeOffset.UnixEpoch.AddSeconds(seq));
    }

    /// <summary>Applies a delta to a document as a correct client would (for building chains in tests).</summary>
    public static FeedDocument Apply(FeedDocument doc, FeedDelta delta) => doc with
    {
        Seq = delta.Seq,
        Version = delta.Version,
        Totals = delta.Totals,
        Rows = [.. doc.Rows.Select(r => delta.Rows.FirstOrDefault(c => c.Code == r.Code) ?? r)],
        UpdatedAt = delta.UpdatedAt,
    };
}
