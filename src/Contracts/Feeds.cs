namespace Tprcs.Contracts;

/// <summary>
/// Additive figures of an area (or of one unit). Every field is a plain sum over children, so a
/// parent's tally equals the sum of its children's tallies exactly, at every level.
/// Votes are indexed like the election's parties.
/// </summary>
[GenerateSerializer, Immutable, Alias("tprcs.Tally")]
public sealed record Tally(
    [property: Id(0)] long[] Votes,
    [property: Id(1)] long RegisteredVoters,
    [property: Id(2)] long AccreditedVoters,
    [property: Id(3)] long Rejected,
    [property: Id(4)] long TotalValid,
    [property: Id(5)] long TotalCast,
    [property: Id(6)] int UnitsTotal,
    [property: Id(7)] int UnitsReported,
    [property: Id(8)] int UnitsCounted,
    [property: Id(9)] int UnitsCancelled,
    [property: Id(10)] long RegisteredCovered,
    [property: Id(11)] long RegisteredCancelled,
    [property: Id(12)] FlagCounts Flags);

public static class TallyExtensions
{
    /// <summary>
    /// Rule 7 of DOMAIN.md: when the registered voters of cancelled units are at least the margin
    /// between the top two parties, the area's result is at risk of being inconclusive.
    /// </summary>
    public static bool AtRisk(this Tally t)
    {
        if (t.RegisteredCancelled == 0 || t.Votes.Length < 2)
        {
            return false;
        }

        long first = 0, second = 0;
        foreach (var v in t.Votes)
        {
            if (v > first)
            {
                second = first;
                first = v;
            }
            else if (v > second)
            {
                second = v;
            }
        }

        return t.RegisteredCancelled >= first - second;
    }
}

/// <summary>How many units carry each flag (a unit can carry several).</summary>
[GenerateSerializer, Immutable, Alias("tprcs.FlagCounts")]
public sealed record FlagCounts(
    [property: Id(0)] int OverVoting,
    [property: Id(1)] int AccreditedOverRegistered,
    [property: Id(2)] int CastArithmetic,
    [property: Id(3)] int ValidArithmetic,
    [property: Id(4)] int BallotAccounting,
    [property: Id(5)] int RegisteredMismatch,
    [property: Id(6)] int CopyConflict);

/// <summary>A child's absolute figures as it reports them upward. Newer versions win; older ones are ignored.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.ChildReport")]
public sealed record ChildReport(
    [property: Id(0)] string Code,
    [property: Id(1)] long Version,
    [property: Id(2)] Tally Tally,
    [property: Id(3)] UnitStatus? UnitStatus);

/// <summary>One child row of a feed document.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.FeedRow")]
public sealed record FeedRow(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] long Version,
    [property: Id(3)] Tally Tally,
    [property: Id(4)] UnitStatus? UnitStatus);

/// <summary>The whole live document of an area's feed at (Epoch, Seq).</summary>
[GenerateSerializer, Immutable, Alias("tprcs.FeedSnapshot")]
public sealed record FeedSnapshot(
    [property: Id(0)] string ElectionId,
    [property: Id(1)] AreaRef Area,
    [property: Id(2)] string Epoch,
    [property: Id(3)] long Seq,
    [property: Id(4)] long Version,
    [property: Id(5)] Tally Totals,
    [property: Id(6)] FeedRow[] Rows,
    [property: Id(7)] DateTimeOffset UpdatedAt,
    [property: Id(8)] string ChildLevel);

/// <summary>
/// One update of a feed: the new totals and the changed rows (absolute values), to apply to the
/// document at (Epoch, Seq - 1). Totals equal the sum of the rows after applying it.
/// </summary>
[GenerateSerializer, Immutable, Alias("tprcs.FeedDelta")]
public sealed record FeedDelta(
    [property: Id(0)] string ElectionId,
    [property: Id(1)] string Area,
    [property: Id(2)] string Epoch,
    [property: Id(3)] long Seq,
    [property: Id(4)] long Version,
    [property: Id(5)] Tally Totals,
    [property: Id(6)] FeedRow[] Rows,
    [property: Id(7)] DateTimeOffset UpdatedAt);

/// <summary>Answer to a resume request: the missed deltas in order, or a snapshot when they are out of the window.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.FeedCatchUp")]
public sealed record FeedCatchUp(
    [property: Id(0)] FeedDelta[]? Deltas,
    [property: Id(1)] FeedSnapshot? Snapshot);
