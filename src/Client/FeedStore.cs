using System.Collections.Immutable;

namespace Tprcs.Client;

/// <summary>What <see cref="FeedStore.ApplySnapshot"/> or <see cref="FeedStore.ApplyDelta"/> did with a message.</summary>
public enum ApplyResult
{
    /// <summary>The message was applied and a new state published.</summary>
    Applied = 0,

    /// <summary>A delta at or before the held position (same epoch): ignored.</summary>
    Duplicate = 1,

    /// <summary>A snapshot older than the held position in the same epoch: ignored, so the state never goes backwards.</summary>
    Older = 2,

    /// <summary>A delta that does not follow the held position: refused, resync requested with the held position.</summary>
    Gap = 3,

    /// <summary>A message whose totals are not the sum of its rows (or whose version goes back): refused, resync requested without a position (a fresh snapshot).</summary>
    Inconsistent = 4,
}

/// <summary>Why a store asks for a resync.</summary>
public enum ResyncReason
{
    /// <summary>A delta did not follow the held position.</summary>
    Gap = 0,

    /// <summary>An update failed the totals == sum of rows check.</summary>
    Inconsistent = 1,
}

/// <summary>
/// A store's request to be subscribed again: with <see cref="Resume"/> (the held position) after a
/// gap, without a position (a fresh snapshot) after an inconsistency.
/// </summary>
public sealed record ResyncRequest(string Feed, FeedPosition? Resume, ResyncReason Reason);

/// <summary>
/// The single source of truth of one feed (one store per feed). It applies <c>snapshot</c> and
/// <c>delta</c> messages, checks sequence continuity and self-consistency, and publishes each new
/// state whole, as an immutable <see cref="FeedState"/>. It knows nothing of sockets: a
/// <see cref="FeedSocketWorker"/> (or a test) feeds it and turns its <see cref="ResyncRequested"/>
/// into a re-subscribe.
/// </summary>
/// <remarks>
/// Rules (docs/protocol.md, "Rules a client follows"): a delta applies only when its epoch equals
/// the held one and its seq is the held seq + 1; seq ≤ held is a duplicate (ignored); anything
/// else is a gap (refused, resync requested). After applying, totals must equal the sum of the
/// rows, field by field, else the message is refused. A snapshot replaces the document unless it
/// is older than the held position in the same epoch. Within one epoch the published position and
/// version never go backwards. Observers run synchronously on the thread that applies the message
/// (the socket worker's loop) and must not block.
/// </remarks>
public sealed class FeedStore : IObservable<FeedState>
{
    private readonly object _gate = new();
    private readonly Published<FeedState> _state;
    private readonly TimeProvider _time;
    private readonly TimeSpan _resyncRetry;
    private Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private FeedPosition? _target;
    private bool _needsSnapshot;
    private long? _resyncRequestedAt;
    private long _revision;

    /// <summary>Creates the store of <paramref name="feed"/> (<c>"{electionId}/{areaCode}"</c>).</summary>
    /// <param name="feed">The feed id.</param>
    /// <param name="time">The clock for throttling repeated resync requests; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="resyncRetry">While a resync is pending, another one is requested only after this long; 5 s by default.</param>
    public FeedStore(string feed, TimeProvider? time = null, TimeSpan? resyncRetry = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(feed);
        Feed = feed;
        _time = time ?? TimeProvider.System;
        _resyncRetry = resyncRetry ?? TimeSpan.FromSeconds(5);
        _state = new Published<FeedState>(FeedState.Initial(feed));
    }

    /// <summary>The feed id.</summary>
    public string Feed { get; }

    /// <summary>The current state; the same object until the next change.</summary>
    public FeedState Current => _state.Current;

    /// <summary>Raised with every new state, after it became <see cref="Current"/>.</summary>
    public event EventHandler<FeedState>? Changed
    {
        add => _state.Changed += value;
        remove => _state.Changed -= value;
    }

    /// <summary>Raised when a message was refused and the store needs the server to send the missed deltas or a snapshot.</summary>
    public event EventHandler<ResyncRequest>? ResyncRequested;

    /// <summary>Gaps seen so far (diagnostics).</summary>
    public int Gaps { get; private set; }

    /// <summary>Inconsistent messages refused so far (diagnostics).</summary>
    public int Inconsistencies { get; private set; }

    /// <summary>
    /// The position to subscribe with (<c>resume</c>): the held position, or null when there is no
    /// document or the last refusal was an inconsistency (then a fresh snapshot is wanted).
    /// </summary>
    public FeedPosition? ResumePosition
    {
        get
        {
            lock (_gate)
            {
                return _needsSnapshot ? null : Current.Position;
            }
        }
    }

    /// <summary>Observes the states: the current one at once, then every change.</summary>
    public IDisposable Subscribe(IObserver<FeedState> observer) => _state.Subscribe(observer);

    /// <summary>Calls <paramref name="onState"/> with the current state at once, then with every change; dispose to stop.</summary>
    public IDisposable Subscribe(Action<FeedState> onState) => _state.Subscribe(onState);

    /// <summary>Applies a <c>snapshot</c> (its document, at the snapshot's epoch and seq).</summary>
    public ApplyResult ApplySnapshot(FeedDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        lock (_gate)
        {
            var held = Current.Document;
            if (held is not null && held.Epoch == document.Epoch && document.Seq < held.Seq)
            {
                return ApplyResult.Older;
            }

            var rows = document.Rows.IsDefault ? [] : document.Rows;
            if (TallyMath.FindMismatch(document.Totals, rows) is not null
                || (held is not null && held.Epoch == document.Epoch && document.Version < held.Version))
            {
                Inconsistencies++;
                Refuse(ResyncReason.Inconsistent);
                return ApplyResult.Inconsistent;
            }

            var index = new Dictionary<string, int>(rows.Length, StringComparer.Ordinal);
            for (var i = 0; i < rows.Length; i++)
            {
                index[rows[i].Code] = i;
            }

            _index = index;
            _needsSnapshot = false;
            _target = null;
            _resyncRequestedAt = null;
            Publish(FeedStatus.Live, document.Rows == rows ? document : document with { Rows = rows }, null, null, null);
            return ApplyResult.Applied;
        }
    }

    /// <summary>Applies a <c>delta</c>: the rows it carries replace the held rows of the same code, its totals replace the totals.</summary>
    public ApplyResult ApplyDelta(FeedDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        lock (_gate)
        {
            var state = Current;
            var held = state.Document;
            if (held is null)
            {
                Gaps++;
                Refuse(ResyncReason.Gap);
                return ApplyResult.Gap;
            }

            if (delta.Epoch == held.Epoch && delta.Seq <= held.Seq)
            {
                return ApplyResult.Duplicate;
            }

            if (delta.Epoch != held.Epoch || delta.Seq != held.Seq + 1)
            {
                Gaps++;
                Refuse(ResyncReason.Gap);
                return ApplyResult.Gap;
            }

            var changed = delta.Rows.IsDefault ? [] : delta.Rows;
            var rows = held.Rows.ToBuilder();
            Dictionary<string, int>? added = null;
            foreach (var row in changed)
            {
                if (_index.TryGetValue(row.Code, out var at) || (added is not null && added.TryGetValue(row.Code, out at)))
                {
                    rows[at] = row;
                }
                else
                {
                    // Not in the held document: appended (the totals check below still applies).
                    rows.Add(row);
                    (added ??= new Dictionary<string, int>(StringComparer.Ordinal))[row.Code] = rows.Count - 1;
                }
            }

            // One copy of the rows per delta: the builder's array becomes the new state's when it is full.
            var nextRows = rows.Count == rows.Capacity ? rows.MoveToImmutable() : rows.ToImmutable();
            if (delta.Version < held.Version || TallyMath.FindMismatch(delta.Totals, nextRows) is not null)
            {
                Inconsistencies++;
                Refuse(ResyncReason.Inconsistent);
                return ApplyResult.Inconsistent;
            }

            if (added is not null)
            {
                foreach (var (code, at) in added)
                {
                    _index[code] = at;
                }
            }

            var next = held with
            {
                Seq = delta.Seq,
                Version = delta.Version,
                Totals = delta.Totals,
                Rows = nextRows,
                UpdatedAt = delta.UpdatedAt,
            };

            // Live once the position the server announced (subscribed) is reached.
            var reached = _target is not { } target || target.Epoch != next.Epoch || next.Seq >= target.Seq;
            var status = reached || state.Status == FeedStatus.Live ? FeedStatus.Live : state.Status;
            if (status == FeedStatus.Live)
            {
                _target = null;
                _resyncRequestedAt = null;
            }

            Publish(status, next, null, status == FeedStatus.Live ? null : state.StaleSince, null);
            return ApplyResult.Applied;
        }
    }

    /// <summary>
    /// The server's <c>subscribed</c>: the subscription is live at <paramref name="server"/>. With
    /// mode <c>resume</c> and the held position already there, the state is live at once; otherwise
    /// it becomes live when the missed deltas (or the snapshot) reach that position.
    /// </summary>
    public void OnSubscribed(string mode, FeedPosition server)
    {
        lock (_gate)
        {
            var state = Current;
            if (mode == "resume" && state.Document is { } held && held.Epoch == server.Epoch && held.Seq >= server.Seq)
            {
                _target = null;
                _resyncRequestedAt = null;
                if (state.Status != FeedStatus.Live)
                {
                    Publish(FeedStatus.Live, held, state.RowsByCodeIfBuilt, null, null);
                }

                return;
            }

            _target = server;
            if (state.Status == FeedStatus.Error)
            {
                Publish(state.HasDocument ? FeedStatus.Resyncing : FeedStatus.Loading, state.Document, state.RowsByCodeIfBuilt, state.StaleSince, null);
            }
        }
    }

    /// <summary>The connection is lost: the held document stays, marked stale since <paramref name="since"/> (kept if already stale).</summary>
    public void MarkStale(DateTimeOffset since)
    {
        lock (_gate)
        {
            var state = Current;
            _target = null;
            _resyncRequestedAt = null;
            if (state.Status is FeedStatus.Stale or FeedStatus.Error)
            {
                return;
            }

            Publish(FeedStatus.Stale, state.Document, state.RowsByCodeIfBuilt, state.StaleSince ?? since, null);
        }
    }

    /// <summary>The server refused the feed (e.g. <c>unknown-feed</c>): the held document stays, with the error.</summary>
    public void MarkError(string code, string message)
    {
        lock (_gate)
        {
            var state = Current;
            Publish(FeedStatus.Error, state.Document, state.RowsByCodeIfBuilt, state.StaleSince, new FeedError(code, message));
        }
    }

    // Called under _gate: the message is not applied; ask for the missed deltas (gap) or a snapshot (inconsistency).
    private void Refuse(ResyncReason reason)
    {
        if (reason == ResyncReason.Inconsistent)
        {
            _needsSnapshot = true;
        }

        _target = null;
        var state = Current;
        if (state.Status == FeedStatus.Live)
        {
            Publish(FeedStatus.Resyncing, state.Document, state.RowsByCodeIfBuilt, null, null);
        }

        var now = _time.GetTimestamp();
        if (_resyncRequestedAt is { } at && _time.GetElapsedTime(at, now) < _resyncRetry)
        {
            return; // One request is enough until it has had time to be answered.
        }

        _resyncRequestedAt = now;
        var request = new ResyncRequest(Feed, _needsSnapshot ? null : state.Position, reason);
        try
        {
            ResyncRequested?.Invoke(this, request);
        }
        catch (Exception)
        {
            // The requester's bug must not break the store; the next refusal asks again.
        }
    }

    // Called under _gate.
    private void Publish(FeedStatus status, FeedDocument? document, ImmutableDictionary<string, FeedRow>? rows, DateTimeOffset? staleSince, FeedError? error) =>
        _state.Publish(new FeedState(Feed, status, document, rows, staleSince, error, ++_revision), this);
}
