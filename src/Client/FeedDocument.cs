using System.Collections.Immutable;

namespace Tprcs.Client;

// The feed document as the server sends it (docs/protocol.md, "The document"), as immutable records.
// The same records are deserialized from the wire (TprcsJsonContext) and published in FeedState.

/// <summary>
/// Additive figures of an area or a row: an area's totals are the exact sum of its rows, field by
/// field. <see cref="Votes"/> follows the order of <see cref="FeedDocument.Parties"/>.
/// </summary>
public sealed record Tally(
    ImmutableArray<long> Votes,
    long RegisteredVoters,
    long AccreditedVoters,
    long Rejected,
    long TotalValid,
    long TotalCast,
    UnitCounts Units,
    long RegisteredCovered,
    long RegisteredCancelled,
    FlagCounts Flags);

/// <summary>Polling units: all of them, those that reported, those counted, those cancelled.</summary>
public sealed record UnitCounts(long Total, long Reported, long Counted, long Cancelled);

/// <summary>How many units carry each flag.</summary>
public sealed record FlagCounts(
    long OverVoting,
    long AccreditedOverRegistered,
    long CastArithmetic,
    long ValidArithmetic,
    long BallotAccounting,
    long RegisteredMismatch,
    long CopyConflict);

/// <summary>One child of the area (a polling unit of a ward, a ward of an LGA...). <see cref="Status"/> is set for polling units only.</summary>
public sealed record FeedRow(string Code, string Name, long Version, Tally Tally, string? Status = null);

/// <summary>The area a feed describes; <see cref="Parent"/> is null for the root area.</summary>
public sealed record AreaInfo(string Code, string Name, string Level, long RegisteredVoters, string? Parent = null);

/// <summary>The whole document of a feed at position (<see cref="Epoch"/>, <see cref="Seq"/>).</summary>
public sealed record FeedDocument(
    string ElectionId,
    AreaInfo Area,
    string ChildLevel,
    ImmutableArray<string> Parties,
    string Epoch,
    long Seq,
    long Version,
    Tally Totals,
    ImmutableArray<FeedRow> Rows,
    DateTimeOffset UpdatedAt,
    bool AtRisk)
{
    /// <summary>The document's position.</summary>
    public FeedPosition Position => new(Epoch, Seq);
}

/// <summary>The update of a feed from <c>Seq - 1</c> to <see cref="Seq"/>: the new totals and only the rows that changed, with absolute values.</summary>
public sealed record FeedDelta(
    string Epoch,
    long Seq,
    long Version,
    Tally Totals,
    ImmutableArray<FeedRow> Rows,
    DateTimeOffset UpdatedAt);

/// <summary>A position in a feed: its epoch (sequence space) and sequence number.</summary>
public readonly record struct FeedPosition(string Epoch, long Seq)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Epoch}:{Seq}";
}
