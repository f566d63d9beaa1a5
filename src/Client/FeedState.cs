using System.Collections.Immutable;

namespace Tprcs.Client;

/// <summary>What a <see cref="FeedState"/> shows.</summary>
public enum FeedStatus
{
    /// <summary>No document yet: waiting for the first snapshot.</summary>
    Loading = 0,

    /// <summary>The document is current: the connection is up and the chain of updates is unbroken.</summary>
    Live = 1,

    /// <summary>A gap or an inconsistent update was refused; the document shown is the last good one while the missed updates or a snapshot are fetched.</summary>
    Resyncing = 2,

    /// <summary>The connection is lost; the document shown is the last good one, as of <see cref="FeedState.StaleSince"/>.</summary>
    Stale = 3,

    /// <summary>The server refused the feed (<see cref="FeedState.Error"/>), e.g. <c>unknown-feed</c>.</summary>
    Error = 4,
}

/// <summary>An error the server reported for a feed.</summary>
public sealed record FeedError(string Code, string Message);

/// <summary>
/// One immutable state of a feed, published whole by its <see cref="FeedStore"/>: the document
/// (position, totals, rows) and the status. Never torn: every field belongs to the same update.
/// </summary>
public sealed class FeedState
{
    internal FeedState(
        string feed,
        FeedStatus status,
        FeedDocument? document,
        ImmutableDictionary<string, FeedRow>? rowsByCode,
        DateTimeOffset? staleSince,
        FeedError? error,
        long revision)
    {
        Feed = feed;
        Status = status;
        Document = document;
        _rowsByCode = rowsByCode;
        StaleSince = staleSince;
        Error = error;
        Revision = revision;
    }

    private static readonly ImmutableDictionary<string, FeedRow> NoRows = ImmutableDictionary<string, FeedRow>.Empty.WithComparers(StringComparer.Ordinal);

    internal static FeedState Initial(string feed) => new(feed, FeedStatus.Loading, null, NoRows, null, null, 0);

    /// <summary>The feed id, <c>"{electionId}/{areaCode}"</c>.</summary>
    public string Feed { get; }

    /// <summary>Whether the document is live, being resynchronized, stale, or missing.</summary>
    public FeedStatus Status { get; }

    /// <summary>The whole document (area, parties, totals, rows...), or null before the first snapshot.</summary>
    public FeedDocument? Document { get; }

    /// <summary>True once a document is held.</summary>
    public bool HasDocument => Document is not null;

    /// <summary>The epoch of the document's sequence space, or null before the first snapshot.</summary>
    public string? Epoch => Document?.Epoch;

    /// <summary>The document's sequence number, or -1 before the first snapshot.</summary>
    public long Seq => Document?.Seq ?? -1;

    /// <summary>The area's version (grows with every change of the area), or 0 before the first snapshot.</summary>
    public long Version => Document?.Version ?? 0;

    /// <summary>The position (epoch, seq), or null before the first snapshot.</summary>
    public FeedPosition? Position => Document?.Position;

    /// <summary>The area's totals, or null before the first snapshot. Always the exact sum of <see cref="Rows"/>.</summary>
    public Tally? Totals => Document?.Totals;

    /// <summary>The rows in the server's order (empty before the first snapshot).</summary>
    public ImmutableArray<FeedRow> Rows => Document?.Rows ?? [];

    private ImmutableDictionary<string, FeedRow>? _rowsByCode;

    /// <summary>The rows by code (built on first use: a state whose rows nobody looks up by code costs no dictionary).</summary>
    public ImmutableDictionary<string, FeedRow> RowsByCode
    {
        get
        {
            if (Volatile.Read(ref _rowsByCode) is { } built)
            {
                return built;
            }

            var builder = NoRows.ToBuilder();
            foreach (var row in Rows)
            {
                builder[row.Code] = row;
            }

            return Interlocked.CompareExchange(ref _rowsByCode, builder.ToImmutable(), null) ?? _rowsByCode;
        }
    }

    /// <summary>The dictionary when it was built already (a later state with the same rows shares it).</summary>
    internal ImmutableDictionary<string, FeedRow>? RowsByCodeIfBuilt => Volatile.Read(ref _rowsByCode);

    /// <summary>When the document last changed on the server, or null before the first snapshot.</summary>
    public DateTimeOffset? UpdatedAt => Document?.UpdatedAt;

    /// <summary>Since when the state has not been live (set while <see cref="FeedStatus.Stale"/>), else null.</summary>
    public DateTimeOffset? StaleSince { get; }

    /// <summary>The server's refusal while <see cref="FeedStatus.Error"/>, else null.</summary>
    public FeedError? Error { get; }

    /// <summary>Counts the states this store has published (0 for the initial state).</summary>
    public long Revision { get; }

    /// <summary>The votes of a party by its code, or null when the party is unknown or there is no document.</summary>
    public long? VotesOf(string party)
    {
        if (Document is not { } doc)
        {
            return null;
        }

        var i = doc.Parties.IndexOf(party);
        return i < 0 || i >= doc.Totals.Votes.Length ? null : doc.Totals.Votes[i];
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Feed} {Status} {Position?.ToString() ?? "-"} v{Version}";
}
