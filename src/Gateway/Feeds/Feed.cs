using System.Text.Json;
using Orleans.Streams;
using Tprcs.Contracts;
using Tprcs.Gateway.Api;

namespace Tprcs.Gateway.Feeds;

/// <summary>
/// One area's feed on this gateway node: one stream subscription however many clients watch it,
/// the current document, a short window of recent deltas, each update serialized once and handed
/// to every watching connection's own queue.
/// </summary>
public sealed partial class Feed
{
    private readonly object _gate = new();
    private readonly IClusterClient _cluster;
    private readonly ILogger _logger;
    private readonly DeltaWindow _window;
    private readonly HashSet<FeedConnection> _watchers = [];
    private readonly List<FeedDelta> _pending = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string[] _parties;
    private FeedSnapshot? _doc;
    private Dictionary<string, int> _rowIndex = [];
    private OutMessage? _snapshotMessage;
    private bool _resyncing;
    private bool _retired;
    private StreamSubscriptionHandle<FeedDelta>? _subscription;

    public Feed(string key, string[] parties, IClusterClient cluster, int windowSize, ILogger logger)
    {
        Key = key;
        _parties = parties;
        _cluster = cluster;
        _window = new DeltaWindow(windowSize);
        _logger = logger;
    }

    public string Key { get; }

    /// <summary>When the last watcher left, or null while someone watches.</summary>
    public DateTimeOffset? IdleSince { get; private set; }

    public int Watchers
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    /// <summary>The current position, for diagnostics and tests.</summary>
    public (string Epoch, long Seq)? Position
    {
        get
        {
            lock (_gate)
            {
                return _doc is null ? null : (_doc.Epoch, _doc.Seq);
            }
        }
    }

    private IAreaGrain Grain => _cluster.GetGrain<IAreaGrain>(Key);

    /// <summary>Subscribes to the stream first and only then takes the snapshot, so no update falls between the two.</summary>
    public async Task StartAsync()
    {
        try
        {
            var stream = _cluster.GetStreamProvider(Keys.StreamProvider)
                .GetStream<FeedDelta>(StreamId.Create(Keys.FeedNamespace, Key));
            _subscription = await stream.SubscribeAsync((delta, _) =>
            {
                lock (_gate)
                {
                    Accept(delta);
                }

                return Task.CompletedTask;
            });
            var snapshot = await Grain.GetSnapshot();
            lock (_gate)
            {
                Replace(snapshot, broadcast: false);
                DrainPending();
            }

            _ready.TrySetResult();
        }
        catch (Exception ex)
        {
            _ready.TrySetException(ex);
            if (_subscription is not null)
            {
                // A failed start must not leave a subscription feeding a feed nobody will use.
                try
                {
                    await _subscription.UnsubscribeAsync();
                }
                catch (Exception unsubscribe)
                {
                    LogResyncFailed(_logger, unsubscribe, Key, 0);
                }
            }

            throw;
        }
    }

    public Task Ready => _ready.Task;

    /// <summary>The oldest delta this node can resume a client from without asking the grain (null: none held).</summary>
    internal long? WindowStart
    {
        get
        {
            lock (_gate)
            {
                return _window.FirstSeq;
            }
        }
    }

    public async Task StopAsync()
    {
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
    }

    /// <summary>
    /// Adds a watcher. A resume position in the feed's epoch gets exactly the missed deltas, from
    /// this node's window or, when the feed is new here, from the area grain's window (positions
    /// live in the cluster, so a client can resume on any node); at the current position, nothing;
    /// otherwise a snapshot. The catch-up and the registration happen under the feed's lock, so no
    /// live delta can slip between them.
    /// </summary>
    /// <returns>False when the feed was retired meanwhile: subscribe again to a fresh one.</returns>
    public async Task<bool> AttachAsync(FeedConnection connection, string? epoch, long? seq)
    {
        FeedCatchUp? remote = null;
        var refreshed = false;
        for (var pass = 0; ; pass++)
        {
            string docEpoch;
            long docSeq;
            lock (_gate)
            {
                if (_retired)
                {
                    return false;
                }

                var doc = _doc!;
                (docEpoch, docSeq) = (doc.Epoch, doc.Seq);
                // A client ahead of this node (another node delivered more, or saw a newer epoch)
                // must not be sent this node's older document: catch this node up first.
                var ahead = epoch is not null && seq is { } held && (epoch != doc.Epoch || held > doc.Seq);
                if (!ahead || refreshed)
                {
                    var resumable = epoch == doc.Epoch && seq is { } from && from >= 0 && from <= doc.Seq;
                    var missed = resumable ? Missed(seq!.Value, doc.Seq, null) ?? (remote is null ? null : Missed(seq!.Value, doc.Seq, RemoteMessagesLocked(remote))) : null;
                    if (missed is not null || !resumable || remote is not null || pass > 1)
                    {
                        Register(connection, doc, seq, missed);
                        return true;
                    }
                }
            }

            try
            {
                if (!refreshed && epoch is not null && (epoch != docEpoch || seq > docSeq))
                {
                    refreshed = true;
                    var tail = await Grain.CatchUp(docEpoch, docSeq);
                    lock (_gate)
                    {
                        if (!_resyncing)
                        {
                            ApplyCatchUp(tail);
                        }
                    }
                }
                else
                {
                    refreshed = true;
                    remote = await CatchUpOnceAsync(epoch!, seq!.Value);
                    lock (_gate)
                    {
                        MergeOlderLocked(remote);
                    }
                }
            }
            catch (Exception ex)
            {
                // Without the grain the client still gets a correct snapshot of this node's document.
                LogResyncFailed(_logger, ex, Key, 0);
                refreshed = true;
            }
        }
    }

    // Called under _gate.
    private void Register(FeedConnection connection, FeedSnapshot doc, long? seq, List<OutMessage>? missed)
    {
        var mode = missed is null ? "snapshot" : "resume";
        connection.Track(this, missed is null ? null : doc.Epoch, missed is null ? -1 : seq!.Value);
        connection.Enqueue(OutMessage.Control(new SubscribedMessage("subscribed", Key, mode, doc.Epoch, doc.Seq),
            FeedJsonContext.Default.SubscribedMessage));
        if (missed is null)
        {
            connection.Enqueue(SnapshotMessageLocked());
        }
        else
        {
            foreach (var m in missed)
            {
                connection.Enqueue(m);
            }
        }

        _watchers.Add(connection);
        IdleSince = null;
    }

    /// <summary>
    /// The grain's deltas after (epoch, from), fetched once for every client resuming from that
    /// position or a later one while the fetch is under way: after a node dies, thousands of its
    /// clients resume here from about the same position, and the area's grain answers once.
    /// </summary>
    private Task<FeedCatchUp> CatchUpOnceAsync(string epoch, long from)
    {
        TaskCompletionSource<FeedCatchUp> fetch;
        lock (_gate)
        {
            if (_olderFetch is { IsCompleted: false } pending && _olderEpoch == epoch && _olderFrom <= from)
            {
                return pending;
            }

            fetch = new TaskCompletionSource<FeedCatchUp>(TaskCreationOptions.RunContinuationsAsynchronously);
            (_olderFetch, _olderEpoch, _olderFrom) = (fetch.Task, epoch, from);
        }

        _ = CompleteAsync();
        return fetch.Task;

        async Task CompleteAsync()
        {
            try
            {
                fetch.SetResult(await Grain.CatchUp(epoch, from));
            }
            catch (Exception ex)
            {
                fetch.SetException(ex);
            }
        }
    }

    private Task<FeedCatchUp>? _olderFetch;
    private string? _olderEpoch;
    private long _olderFrom;

    // Called under _gate: puts the grain's deltas that come before this node's window in front of
    // it (while it has room), so that the next clients resuming from there are served from here.
    private void MergeOlderLocked(FeedCatchUp catchUp)
    {
        if (catchUp.Deltas is not { Length: > 0 } deltas || _window.Capacity == 0 || _doc is not { } doc)
        {
            return;
        }

        // The window always ends at the document's position; older deltas must chain down to it.
        var firstHeld = _window.FirstSeq ?? doc.Seq + 1;
        var older = new List<OutMessage>();
        for (var i = deltas.Length - 1; i >= 0 && _window.Count + older.Count < _window.Capacity; i--)
        {
            var d = deltas[i];
            if (d.Epoch != doc.Epoch || d.Seq >= firstHeld)
            {
                continue;
            }

            if (d.Seq != firstHeld - 1)
            {
                break;
            }

            older.Add(DeltaMessage(d));
            firstHeld--;
        }

        older.Reverse();
        _window.Prepend(older);
    }

    private (FeedCatchUp Source, OutMessage[] Messages)? _remoteMessages;

    // Called under _gate: a grain answer's deltas serialized once, for every client resumed from it
    // (those the window could not take, when it is full).
    private OutMessage[] RemoteMessagesLocked(FeedCatchUp remote)
    {
        if (_remoteMessages is not { } cached || !ReferenceEquals(cached.Source, remote))
        {
            cached = (remote, Array.ConvertAll(remote.Deltas ?? [], DeltaMessage));
            _remoteMessages = cached;
        }

        return cached.Messages;
    }

    // Called under _gate: the deltas (from, to], from the grain's answer then this node's window,
    // or null when they do not form an unbroken chain.
    private List<OutMessage>? Missed(long from, long to, OutMessage[]? remote)
    {
        var result = new List<OutMessage>();
        var next = from + 1;
        foreach (var m in remote ?? [])
        {
            if (m.Epoch == _doc!.Epoch && m.Seq == next && next <= to)
            {
                result.Add(m);
                next++;
            }
        }

        while (next <= to && _window.At(next) is { } held)
        {
            result.Add(held);
            next++;
        }

        return next == to + 1 ? result : null;
    }

    private OutMessage DeltaMessage(FeedDelta delta) =>
        OutMessage.Json(OutKind.Delta, Key, delta.Epoch, delta.Seq,
            new DeltaMessage("delta", Key, delta.Epoch, delta.Seq, delta.Version, delta.UpdatedAt, delta.Totals.ToJson(),
                delta.Rows.Select(r => r.ToJson()).ToArray()),
            FeedJsonContext.Default.DeltaMessage);

    /// <summary>
    /// Marks the feed retired if nobody watches it and it has been idle for <paramref name="lifetime"/>;
    /// a retired feed takes no more watchers (subscribers then open a fresh one).
    /// </summary>
    public bool TryRetire(DateTimeOffset now, TimeSpan lifetime)
    {
        lock (_gate)
        {
            if (_watchers.Count == 0 && IdleSince is { } idle && now - idle >= lifetime)
            {
                _retired = true;
            }

            return _retired;
        }
    }

    public void Detach(FeedConnection connection, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (_watchers.Remove(connection) && _watchers.Count == 0)
            {
                IdleSince = now;
            }
        }
    }

    /// <summary>The current document as a serialized snapshot message (cached until the next update).</summary>
    public OutMessage CurrentSnapshot()
    {
        lock (_gate)
        {
            return SnapshotMessageLocked();
        }
    }

    private OutMessage SnapshotMessageLocked()
    {
        var doc = _doc!;
        return _snapshotMessage ??= OutMessage.Json(OutKind.Snapshot, Key, doc.Epoch, doc.Seq,
            new SnapshotMessage("snapshot", Key, doc.Epoch, doc.Seq, doc.ToJson(_parties)), FeedJsonContext.Default.SnapshotMessage);
    }

    /// <summary>
    /// Asks the grain whether anything was published after our position. Streams are at most once,
    /// so a lost last update would otherwise go unnoticed until the next one; the call also renews
    /// the area's watch lease. One attempt: the next tick tries again.
    /// </summary>
    public async Task CheckTailAsync(TimeSpan timeout)
    {
        string epoch;
        long seq;
        lock (_gate)
        {
            if (_doc is null || _resyncing)
            {
                return;
            }

            (epoch, seq) = (_doc.Epoch, _doc.Seq);
            _resyncing = true;
        }

        FeedCatchUp? catchUp = null;
        try
        {
            catchUp = await Grain.CatchUp(epoch, seq).WaitAsync(timeout);
        }
        finally
        {
            lock (_gate)
            {
                if (catchUp is not null)
                {
                    ApplyCatchUp(catchUp);
                }

                _resyncing = false;
                DrainPending();
            }
        }
    }

    // Called under _gate.
    private void Accept(FeedDelta delta)
    {
        if (_ready.Task.IsFaulted || _retired)
        {
            return;
        }

        if (_doc is null || _resyncing)
        {
            _pending.Add(delta);
            return;
        }

        if (delta.Epoch == _doc.Epoch && delta.Seq <= _doc.Seq)
        {
            return;
        }

        if (delta.Epoch == _doc.Epoch && delta.Seq == _doc.Seq + 1)
        {
            ApplyAndBroadcast(delta);
            return;
        }

        // A gap (a lost delta) or a new epoch (the area was reactivated): ask the grain.
        LogGap(_logger, Key, _doc.Epoch, _doc.Seq, delta.Epoch, delta.Seq);
        _pending.Add(delta);
        _resyncing = true;
        var (epoch, seq) = (_doc.Epoch, _doc.Seq);
        _ = Task.Run(() => ResyncAsync(epoch, seq));
    }

    private async Task ResyncAsync(string epoch, long seq)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var catchUp = await Grain.CatchUp(epoch, seq);
                lock (_gate)
                {
                    ApplyCatchUp(catchUp);
                    _resyncing = false;
                    DrainPending();
                }

                return;
            }
            catch (Exception ex)
            {
                LogResyncFailed(_logger, ex, Key, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5_000, 100 << Math.Min(attempt, 6))));
            }
        }
    }

    // Called under _gate.
    private void ApplyCatchUp(FeedCatchUp catchUp)
    {
        if (catchUp.Snapshot is { } snapshot)
        {
            Replace(snapshot, broadcast: true);
            return;
        }

        foreach (var d in catchUp.Deltas!)
        {
            ApplyIfNext(d);
        }
    }

    // Called under _gate: applies the delta when it is the document's next one.
    private void ApplyIfNext(FeedDelta d)
    {
        if (d.Epoch == _doc!.Epoch && d.Seq == _doc.Seq + 1)
        {
            ApplyAndBroadcast(d);
        }
    }

    // Called under _gate. After a resync, pending deltas that still do not follow on are dropped,
    // not chased: the grain has just told us everything up to its position, so such a delta is
    // older than that or was published after it, and the next delta or tail check repairs it.
    private void DrainPending()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var pending = _pending.OrderBy(d => d.Seq).ToList();
        _pending.Clear();
        foreach (var d in pending)
        {
            ApplyIfNext(d);
        }
    }

    // Called under _gate.
    private void Replace(FeedSnapshot snapshot, bool broadcast)
    {
        if (_doc is not null && snapshot.Epoch == _doc.Epoch && snapshot.Seq <= _doc.Seq)
        {
            return;
        }

        _doc = snapshot;
        _rowIndex = new Dictionary<string, int>(snapshot.Rows.Length, StringComparer.Ordinal);
        for (var i = 0; i < snapshot.Rows.Length; i++)
        {
            _rowIndex[snapshot.Rows[i].Code] = i;
        }

        _window.Clear();
        _snapshotMessage = null;
        if (broadcast)
        {
            var message = SnapshotMessageLocked();
            foreach (var w in _watchers)
            {
                w.Enqueue(message);
            }
        }
    }

    // Called under _gate.
    private void ApplyAndBroadcast(FeedDelta delta)
    {
        var doc = _doc!;
        var rows = (FeedRow[])doc.Rows.Clone();
        foreach (var row in delta.Rows)
        {
            if (_rowIndex.TryGetValue(row.Code, out var i))
            {
                rows[i] = row;
            }
        }

        _doc = doc with { Seq = delta.Seq, Version = delta.Version, Totals = delta.Totals, Rows = rows, UpdatedAt = delta.UpdatedAt };
        _snapshotMessage = null;
        var message = DeltaMessage(delta);
        _window.Add(message);

        foreach (var w in _watchers)
        {
            w.Enqueue(message);
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Feed {Feed}: at {Epoch}/{Seq}, received {NewEpoch}/{NewSeq}; resynchronizing from the grain")]
    private static partial void LogGap(ILogger logger, string feed, string epoch, long seq, string newEpoch, long newSeq);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Feed {Feed}: resynchronization attempt {Attempt} failed")]
    private static partial void LogResyncFailed(ILogger logger, Exception exception, string feed, int attempt);
}
