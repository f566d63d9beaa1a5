using System.Net.WebSockets;

namespace Tprcs.Gateway.Feeds;

/// <summary>
/// One observer's WebSocket: a bounded send queue (in bytes) drained by one writer loop. Feeds
/// enqueue without ever waiting on the socket, so a slow client never slows the others. When the
/// queue overflows, its feed messages are dropped and each feed is brought back with one fresh
/// snapshot once the client catches up; the writer also keeps every feed's sequence continuous.
/// </summary>
public sealed class FeedConnection : IThreadPoolWorkItem
{
    private readonly object _gate = new();
    private readonly FeedTransport _transport;
    private readonly FeedGatewayOptions _options;
    private readonly Queue<OutMessage> _queue = new();
    private readonly Dictionary<string, Tracked> _feeds = new(StringComparer.Ordinal);
    private readonly List<OutMessage> _batch = [];
    private bool _writerStarted;
    private bool _writerBusy;
    private bool _writerStopped;
    private CancellationToken _writerToken;
    private TaskCompletionSource? _writerDone;
    private long _queuedBytes;
    private long _inFlightBytes;
    private int _overflows;
    private bool _overflowedThisBatch;
    private long _lastOverflowCounted;

    private sealed class Tracked(Feed feed, string? epoch, long seq)
    {
        public Feed Feed { get; } = feed;
        public string? Epoch { get; set; } = epoch;
        public long Seq { get; set; } = seq;
        public bool NeedsSnapshot { get; set; }
    }

    private readonly CancellationTokenSource? _abort;

    /// <param name="abort">Cancelled when a client that stays behind does not even take its close frame: the socket is then aborted.</param>
    public FeedConnection(WebSocket socket, FeedGatewayOptions options, CancellationTokenSource? abort = null)
        : this(new WebSocketFeedTransport(socket), options, abort)
    {
    }

    /// <param name="transport">The socket; this connection's writer loop is the only code that sends on it.</param>
    /// <param name="abort">Cancelled when a client that stays behind does not even take its close frame: the socket is then aborted.</param>
    public FeedConnection(FeedTransport transport, FeedGatewayOptions options, CancellationTokenSource? abort = null)
    {
        _transport = transport;
        _options = options;
        _abort = abort;
    }

    /// <summary>A WebSocket ping frame, the same bytes for every connection that needs the gateway's own pings.</summary>
    private static readonly OutMessage PingFrame = OutMessage.ControlFrame(WsFrame.Ping, []);

    /// <summary>
    /// Called by the node's heartbeat loop at this connection's (jittered) time: the heartbeat
    /// message, and on transports without pings of their own a WebSocket ping. A client silent for
    /// longer than a heartbeat period plus the keep-alive timeout is dead and its connection aborted.
    /// </summary>
    internal void Heartbeat(OutMessage heartbeat)
    {
        if (_transport.SendsOwnPings
            && _transport.SilentForMs > (_options.HeartbeatInterval * 1.2 + _options.KeepAliveTimeout).TotalMilliseconds)
        {
            Abort();
            return;
        }

        Enqueue(heartbeat);
        if (_transport.SendsOwnPings)
        {
            Enqueue(PingFrame);
        }
    }

    /// <summary>Ends the connection: its session stops receiving and closes it (end of a drain, a dead peer).</summary>
    internal void Abort() => Cancel(_abort);

    private static void Cancel(CancellationTokenSource? source)
    {
        try
        {
            source?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection ended meanwhile.
        }
    }

    /// <summary>Bytes queued or being written (for tests and metrics); never above the queue bound.</summary>
    public long QueuedBytes
    {
        get
        {
            lock (_gate)
            {
                return _queuedBytes + _inFlightBytes;
            }
        }
    }

    /// <summary>Set when the client stayed behind too long; the writer closes the socket with 4008.</summary>
    public bool TooSlow { get; private set; }

    public int FeedCount
    {
        get
        {
            lock (_gate)
            {
                return _feeds.Count;
            }
        }
    }

    public bool IsWatching(string feed)
    {
        lock (_gate)
        {
            return _feeds.ContainsKey(feed);
        }
    }

    /// <summary>Registers a feed with the position the client already holds (null epoch: none yet).</summary>
    internal void Track(Feed feed, string? epoch, long seq)
    {
        lock (_gate)
        {
            _feeds[feed.Key] = new Tracked(feed, epoch, seq);
        }
    }

    internal Feed? Untrack(string key)
    {
        lock (_gate)
        {
            return _feeds.Remove(key, out var tracked) ? tracked.Feed : null;
        }
    }

    internal Feed[] TrackedFeeds()
    {
        lock (_gate)
        {
            return _feeds.Values.Select(t => t.Feed).ToArray();
        }
    }

    /// <summary>Never blocks. Called by feeds under their own lock, so it must stay short.</summary>
    public void Enqueue(OutMessage message)
    {
        bool schedule;
        lock (_gate)
        {
            if (TooSlow)
            {
                return;
            }

            if (message.Kind != OutKind.Control && message.Feed is { } feed && _feeds.TryGetValue(feed, out var tracked) && tracked.NeedsSnapshot)
            {
                // That feed is owed a fresh snapshot: its deltas until then would be dropped anyway.
                // The client is still behind while a write is in progress, and that still counts
                // (once per batch, then once a second while the write stays stuck).
                if (_inFlightBytes > 0 && CountOverflow())
                {
                    BecomeTooSlow();
                }

                return;
            }

            var total = _queuedBytes + _inFlightBytes + message.Length;
            if (message.Kind == OutKind.Control && total > 2L * _options.SendQueueBytes)
            {
                // Control messages are small and few; a client that makes them pile up (pings
                // while it does not read) is as behind as one whose deltas overflow.
                _overflows = _options.MaxConsecutiveOverflows;
                Overflow();
                return;
            }

            if (message.Kind != OutKind.Control && total > _options.SendQueueBytes)
            {
                Overflow();
                return;
            }

            _queue.Enqueue(message);
            _queuedBytes += message.Length;
            schedule = TryStartDrainLocked();
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    // Called under _gate: drop the feed messages, keep control messages, and owe each feed a snapshot.
    private void Overflow()
    {
        if (CountOverflow())
        {
            BecomeTooSlow();
            return;
        }

        var kept = _queue.Where(m => m.Kind == OutKind.Control).ToList();
        _queue.Clear();
        _queuedBytes = 0;
        // Bytes being written stay counted (_inFlightBytes) until the writer is done with them.
        foreach (var m in kept)
        {
            _queue.Enqueue(m);
            _queuedBytes += m.Length;
        }

        foreach (var t in _feeds.Values)
        {
            t.NeedsSnapshot = true;
        }

        // An idle writer must still bring the feeds back.
        if (TryStartDrainLocked())
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>
    /// Counts an overflow: once per writer batch, and once more per second while a batch stays stuck
    /// on a client that does not read. True when the client is now behind past the limit.
    /// </summary>
    private bool CountOverflow()
    {
        var now = Environment.TickCount64;
        if (!_overflowedThisBatch || now - _lastOverflowCounted >= 1_000 || _overflows >= _options.MaxConsecutiveOverflows)
        {
            _overflows++;
            _overflowedThisBatch = true;
            _lastOverflowCounted = now;
        }

        return _overflows > _options.MaxConsecutiveOverflows;
    }

    // Called under _gate.
    private void BecomeTooSlow()
    {
        if (TooSlow)
        {
            return;
        }

        TooSlow = true;
        _queue.Clear();
        _queuedBytes = 0;
        if (TryStartDrainLocked())
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        // The writer closes with 4008 as soon as its current send completes; a client that does
        // not read at all never lets it, so the socket is aborted after a short grace.
        if (_abort is { } abort)
        {
            _ = Task.Delay(TimeSpan.FromSeconds(2)).ContinueWith(_ => Cancel(abort), TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Starts this connection's writer: from now on, queued messages are sent by one drain at a time,
    /// run on the thread pool only while there is something to send (an idle connection holds no
    /// task, no timer and no buffer). The only code that writes to the socket. The task ends when the
    /// writer stops: cancelled, failed, or after closing a client that stayed behind with 4008.
    /// </summary>
    public Task RunWriterAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool schedule;
        lock (_gate)
        {
            _writerToken = cancellationToken;
            _writerDone = done;
            _writerStarted = true;
            schedule = TryStartDrainLocked();
        }

        cancellationToken.UnsafeRegister(static state => ((FeedConnection)state!).OnWriterCancelled(), this);
        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        return done.Task;
    }

    // Called under _gate: true when the caller must schedule a drain (none is scheduled or running).
    private bool TryStartDrainLocked()
    {
        if (!_writerStarted || _writerBusy || _writerStopped)
        {
            return false;
        }

        _writerBusy = true;
        return true;
    }

    private void OnWriterCancelled()
    {
        lock (_gate)
        {
            _writerStopped = true;
            if (_writerBusy)
            {
                // The running drain sees the cancellation and ends the writer.
                return;
            }
        }

        _writerDone?.TrySetCanceled(_writerToken);
    }

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    /// <summary>Sends until the queue is empty: each batch with one write, then the snapshots feeds are owed.</summary>
    private async Task DrainAsync()
    {
        var batch = _batch;
        try
        {
            while (true)
            {
                batch.Clear();
                bool close;
                lock (_gate)
                {
                    if (_writerToken.IsCancellationRequested)
                    {
                        _writerBusy = false;
                        _writerStopped = true;
                        _writerDone!.TrySetCanceled(_writerToken);
                        return;
                    }

                    close = TooSlow;
                    if (!close)
                    {
                        _overflowedThisBatch = false;
                        // One lock for the whole batch: take it, and decide in order what to send.
                        while (_queue.TryDequeue(out var m))
                        {
                            _queuedBytes -= m.Length;
                            _inFlightBytes += m.Length;
                            if (ShouldSendLocked(m))
                            {
                                batch.Add(m);
                            }
                        }

                        if (batch.Count == 0 && _inFlightBytes == 0 && !OwesSnapshotLocked())
                        {
                            _writerBusy = false;
                            return;
                        }
                    }
                }

                if (close)
                {
                    await _transport.CloseAsync(CloseCodes.SlowConsumer, "slow consumer", _writerToken);
                    lock (_gate)
                    {
                        _writerBusy = false;
                        _writerStopped = true;
                    }

                    _writerDone!.TrySetResult();
                    return;
                }

                // The whole batch in one write where the transport can (one system call, no copy).
                if (batch.Count > 0)
                {
                    await _transport.SendAsync(batch, _writerToken);
                }

                List<Feed>? snapshots = null;
                lock (_gate)
                {
                    _inFlightBytes = 0;
                    foreach (var t in _feeds.Values)
                    {
                        if (t.NeedsSnapshot)
                        {
                            (snapshots ??= []).Add(t.Feed);
                        }
                    }

                    if (_queue.Count == 0)
                    {
                        // Caught up: the client is no longer behind.
                        _overflows = 0;
                    }
                }

                if (snapshots is not null)
                {
                    // Taken outside our lock: feeds enqueue under their own lock, so ours must never wait for theirs.
                    batch.Clear();
                    foreach (var feed in snapshots)
                    {
                        batch.Add(feed.CurrentSnapshot());
                    }

                    lock (_gate)
                    {
                        batch.RemoveAll(snapshot => !ShouldSendLocked(snapshot));
                    }

                    await _transport.SendAsync(batch, _writerToken);
                }
            }
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                _writerBusy = false;
                _writerStopped = true;
            }

            if (ex is OperationCanceledException)
            {
                _writerDone!.TrySetCanceled(_writerToken);
            }
            else
            {
                _writerDone!.TrySetException(ex);
            }
        }
    }

    private bool OwesSnapshotLocked()
    {
        foreach (var t in _feeds.Values)
        {
            if (t.NeedsSnapshot)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Keeps each feed continuous: drops stale or duplicate deltas, turns a gap into a snapshot. Called under _gate.</summary>
    private bool ShouldSendLocked(OutMessage m)
    {
        if (m.Kind == OutKind.Control)
        {
            return true;
        }

        if (!_feeds.TryGetValue(m.Feed!, out var t))
        {
            return false;
        }

        if (m.Kind == OutKind.Snapshot)
        {
            if (t.Epoch == m.Epoch && m.Seq <= t.Seq && !t.NeedsSnapshot)
            {
                return false;
            }

            t.Epoch = m.Epoch;
            t.Seq = m.Seq;
            t.NeedsSnapshot = false;
            return true;
        }

        if (t.NeedsSnapshot || (t.Epoch == m.Epoch && m.Seq <= t.Seq))
        {
            return false;
        }

        if (t.Epoch == m.Epoch && m.Seq == t.Seq + 1)
        {
            t.Seq = m.Seq;
            return true;
        }

        t.NeedsSnapshot = true;
        return false;
    }
}

/// <summary>WebSocket close codes of the protocol (docs/protocol.md).</summary>
public static class CloseCodes
{
    /// <summary>The client fell behind for too long.</summary>
    public const int SlowConsumer = 4008;

    /// <summary>The gateway is shutting down; reconnect to another node.</summary>
    public const int GoingAway = 1001;
}
