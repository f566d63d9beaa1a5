using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;

namespace Tprcs.Client;

/// <summary>
/// The socket worker: owns one <see cref="ClientWebSocket"/> at a time (subprotocol
/// <c>tprcs.v1</c>), subscribes the feeds of its stores (resuming from each store's position),
/// watches heartbeats, and reconnects forever with backoff and full jitter, honouring the server's
/// hints and rotating across the gateways it knows. It writes into <see cref="FeedStore"/>s and
/// never holds feed state of its own.
/// </summary>
/// <remarks>
/// Reconnecting (docs/protocol.md): the first attempt after losing a live connection waits a draw
/// from the node's last <c>retryWindowMs</c>; later attempts back off exponentially with full
/// jitter; hints (close reason <c>retry-after:N</c>, 503 <c>Retry-After</c>) win when longer.
/// After a <c>drain</c> the worker keeps the connection (and its live updates) until the node's
/// <c>retryAfterMs</c> has passed, then closes it and connects at once to another URL than the
/// draining one: the node already spread its clients, so no further jitter is added. An
/// <c>overloaded</c> error re-subscribes that feed after its <c>retryAfterMs</c>.
/// </remarks>
public sealed class FeedSocketWorker : IAsyncDisposable
{
    /// <summary>The WebSocket subprotocol.</summary>
    public const string Protocol = "tprcs.v1";

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly TprcsClientOptions _options;
    private readonly TimeProvider _time;
    private readonly Backoff _backoff;
    private readonly GatewayList _gateways;
    private readonly ConcurrentDictionary<string, FeedStore> _stores = new(StringComparer.Ordinal);
    private readonly Published<ConnectionStatus> _status = new(ConnectionStatus.Idle);
    private readonly CancellationTokenSource _stop = new();
    private readonly object _startGate = new();
    private Task? _loop;
    private Session? _session;
    private TimeSpan? _retryWindow;
    private volatile bool _disposing;

    /// <summary>Creates a worker; <see cref="StartAsync"/> starts its loop.</summary>
    public FeedSocketWorker(TprcsClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _backoff = new Backoff(options);
        _gateways = new GatewayList(options.Gateways);
    }

    /// <summary>The current connection status.</summary>
    public ConnectionStatus Status => _status.Current;

    /// <summary>The connection statuses: the current one at once on subscribing, then every change.</summary>
    public IObservable<ConnectionStatus> StatusChanges => _status;

    /// <summary>Raised with every new connection status.</summary>
    public event EventHandler<ConnectionStatus>? StatusChanged
    {
        add => _status.Changed += value;
        remove => _status.Changed -= value;
    }

    /// <summary>The gateway URLs known so far (configured, then announced by nodes).</summary>
    public IReadOnlyList<Uri> KnownGateways => _gateways.All;

    /// <summary>The stores this worker feeds.</summary>
    public IReadOnlyCollection<FeedStore> Stores => [.. _stores.Values];

    /// <summary>Calls <paramref name="onStatus"/> with the current status at once, then with every change; dispose to stop.</summary>
    public IDisposable SubscribeStatus(Action<ConnectionStatus> onStatus) => _status.Subscribe(onStatus);

    /// <summary>Feeds <paramref name="store"/> from now on: subscribes its feed (at once when live, else on the next connection). False if a store of that feed is already fed.</summary>
    public bool Add(FeedStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!_stores.TryAdd(store.Feed, store))
        {
            return false;
        }

        store.ResyncRequested += OnResyncRequested;
        if (Volatile.Read(ref _session) is { Live: true } session)
        {
            Subscribe(session, store.Feed, store.ResumePosition);
        }

        return true;
    }

    /// <summary>Stops feeding the store of <paramref name="feed"/> and unsubscribes it.</summary>
    public bool Remove(string feed)
    {
        if (!_stores.TryRemove(feed, out var store))
        {
            return false;
        }

        store.ResyncRequested -= OnResyncRequested;
        if (Volatile.Read(ref _session) is { Live: true } session)
        {
            session.Send(new ClientMessage { Type = "unsubscribe", Feed = feed });
        }

        return true;
    }

    /// <summary>Starts the background loop (once; later calls do nothing). It runs until <see cref="DisposeAsync"/>.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposing, this);
        lock (_startGate)
        {
            _loop ??= Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    /// <summary>Closes the connection (gracefully when it can, within 2 s) and stops the loop.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposing)
        {
            return;
        }

        _disposing = true;
        Task? loop;
        lock (_startGate)
        {
            loop = _loop;
        }

        if (loop is not null)
        {
            Volatile.Read(ref _session)?.RequestClose(WebSocketCloseStatus.NormalClosure, "client stopping");
            await Task.WhenAny(loop, Task.Delay(CloseTimeout, _time)).ConfigureAwait(false);
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }

        _stop.Dispose();
        foreach (var store in _stores.Values)
        {
            store.ResyncRequested -= OnResyncRequested;
        }

        _status.Publish(_status.Current with { State = ConnectionState.Stopped, NextAttemptAt = null, Node = null }, this);
    }

    /// <summary>Drops the current connection without a close handshake, as a network failure would (for tests and diagnostics).</summary>
    public void AbortConnection() => Volatile.Read(ref _session)?.Socket.Abort();

    private void Log(string line)
    {
        try
        {
            _options.Log?.Invoke(line);
        }
        catch (Exception)
        {
            // A diagnostics sink must not stop the worker.
        }
    }

    // ---- the loop ----------------------------------------------------------------------------

    private async Task RunAsync(CancellationToken stop)
    {
        var everLive = false;
        DateTimeOffset? staleSince = null;
        string? lastError = null;
        while (!stop.IsCancellationRequested && !_disposing)
        {
            var url = _gateways.Current;
            _status.Publish(new ConnectionStatus(everLive ? ConnectionState.Reconnecting : ConnectionState.Connecting,
                url, null, _backoff.Attempt, null, staleSince, lastError), this);

            var outcome = await ConnectAndServeAsync(url, stop).ConfigureAwait(false);
            if (stop.IsCancellationRequested || _disposing)
            {
                break;
            }

            var now = _time.GetUtcNow();
            lastError = outcome.Error;
            if (outcome.WasLive)
            {
                everLive = true;
                staleSince = now;
                foreach (var store in _stores.Values)
                {
                    store.MarkStale(now);
                }
            }

            TimeSpan delay;
            if (outcome.DrainDeadline is { } deadline)
            {
                // The node chose our time; it has passed (or nearly): go to another node now.
                _backoff.ConnectionLost(null);
                delay = deadline > now ? deadline - now : TimeSpan.Zero;
                url = _gateways.MoveAwayFrom(url);
            }
            else
            {
                if (outcome.WasLive)
                {
                    _backoff.ConnectionLost(_retryWindow);
                }

                if (outcome.Hint is { } hint)
                {
                    _backoff.Hint(hint);
                }

                if (outcome.Unreachable)
                {
                    _gateways.MarkUnreachable(url, now);
                }

                delay = _backoff.NextDelay();
                url = _gateways.Advance(now);
            }

            Log($"next attempt to {url} in {delay.TotalMilliseconds:F0} ms (attempt {_backoff.Attempt}; {lastError ?? "closed"})");
            _status.Publish(new ConnectionStatus(ConnectionState.Reconnecting, url, null, _backoff.Attempt,
                now + delay, staleSince, lastError), this);
            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private sealed record Outcome(bool WasLive, TimeSpan? Hint, DateTimeOffset? DrainDeadline, string? Error)
    {
        /// <summary>The connection itself was refused or failed (no HTTP answer): the node is down or restarting.</summary>
        public bool Unreachable { get; init; }
    }

    private async Task<Outcome> ConnectAndServeAsync(Uri url, CancellationToken stop)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(Protocol);
        socket.Options.CollectHttpResponseDetails = true;
        _options.ConfigureWebSocket?.Invoke(socket.Options);
        try
        {
            using (var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token))
            {
                await socket.ConnectAsync(url, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException or IOException)
        {
            var status = socket.HttpStatusCode;
            TimeSpan? hint = status == HttpStatusCode.ServiceUnavailable
                ? RetryHints.FromRetryAfter(socket.HttpResponseHeaders, _time.GetUtcNow())
                : null;
            socket.Dispose();
            var error = status == 0
                ? $"connect to {url} failed: {ex.Message}"
                : $"connect to {url} failed: HTTP {(int)status}{(hint is null ? "" : $", Retry-After {hint.Value.TotalSeconds:F0} s")}";
            Log(error);
            return new Outcome(false, hint, null, error) { Unreachable = status == 0 && HasSocketError(ex) };
        }

        if (socket.SubProtocol != Protocol)
        {
            socket.Abort();
            socket.Dispose();
            var error = $"{url} did not accept the subprotocol {Protocol}";
            Log(error);
            return new Outcome(false, null, null, error);
        }

        var session = new Session(socket, url, _options.DefaultHeartbeat, _time, stop);
        Volatile.Write(ref _session, session);
        Log($"connected to {url}");
        var sender = SendLoopAsync(session);
        var watchdog = WatchdogAsync(session);
        try
        {
            await ReceiveLoopAsync(session).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A network failure, or a bug while handling a message: either way this connection is
            // over and the loop goes on (the worker never gives up).
            session.EndReason ??= ex switch
            {
                OperationCanceledException => "stopped",
                WebSocketException or IOException or ObjectDisposedException => $"connection lost: {ex.Message}",
                _ => $"client error: {ex}",
            };
        }
        finally
        {
            Interlocked.CompareExchange(ref _session, null, session);
            await session.Cancel().ConfigureAwait(false);
            await Quietly(sender).ConfigureAwait(false);
            await Quietly(watchdog).ConfigureAwait(false);
            session.Dispose();
        }

        var (closeStatus, closeReason) = (socket.CloseStatus, socket.CloseStatusDescription);
        socket.Abort();
        socket.Dispose();
        var closeHint = RetryHints.FromCloseReason(closeReason);
        var reason = session.EndReason
            ?? (closeStatus is { } code ? $"closed by the server: {(int)code} {closeReason}".TrimEnd() : "closed");
        Log($"connection to {url} ended: {reason}");
        // Dropped without a close frame (a killed node, a dead link): like a refused connection, that
        // URL is skipped for a while, so that the herd does not come back to a dead node.
        return new Outcome(session.Live, closeHint, session.DrainDeadline, reason)
        {
            Unreachable = closeStatus is null && session.DrainDeadline is null && !stop.IsCancellationRequested,
        };
    }

    private static bool HasSocketError(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is System.Net.Sockets.SocketException)
            {
                return true;
            }
        }

        return false;
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Ending anyway.
        }
    }

    // ---- one connection ------------------------------------------------------------------------

    /// <summary>Most messages (heartbeats, deltas) fit the connection's own small buffer; a larger one (a snapshot) is assembled in a pooled buffer returned once it is handled.</summary>
    private const int SmallReceiveBuffer = 4 * 1024;

    private async Task ReceiveLoopAsync(Session session)
    {
        var socket = session.Socket;
        var small = new byte[SmallReceiveBuffer];
        while (true)
        {
            var buffer = small;
            byte[]? rented = null;
            try
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length >= _options.MaxMessageBytes)
                    {
                        session.EndReason = $"a message exceeded {_options.MaxMessageBytes} bytes";
                        await CloseQuietlyAsync(socket, WebSocketCloseStatus.MessageTooBig, "message too big").ConfigureAwait(false);
                        return;
                    }

                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(64 * 1024, buffer.Length * 2));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        if (rented is not null)
                        {
                            ArrayPool<byte>.Shared.Return(rented);
                        }

                        buffer = rented = bigger;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(length), session.Token).ConfigureAwait(false);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Answer the close handshake, then end.
                    await CloseQuietlyAsync(socket, WebSocketCloseStatus.NormalClosure, null).ConfigureAwait(false);
                    return;
                }

                session.Heard();
                ServerMessage? message;
                try
                {
                    message = WireReader.Read(buffer.AsSpan(0, length));
                }
                catch (JsonException ex)
                {
                    Log($"ignored a message that does not parse: {ex.Message}");
                    continue;
                }

                if (message is not null)
                {
                    Dispatch(session, message);
                }
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }
    }

    private static async Task CloseQuietlyAsync(WebSocket socket, WebSocketCloseStatus status, string? reason)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        using var timeout = new CancellationTokenSource(CloseTimeout);
        try
        {
            await socket.CloseOutputAsync(status, reason, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Gone already.
        }
    }

    private void Dispatch(Session session, ServerMessage m)
    {
        switch (m.Type)
        {
            case "hello":
                OnHello(session, m);
                break;
            case "heartbeat":
                if (m.RetryWindowMs is { } window and >= 0)
                {
                    _retryWindow = TimeSpan.FromMilliseconds(window);
                }

                break;
            case "subscribed" when m is { Feed: { } feed, Epoch: { } epoch, Seq: { } seq }:
                Store(feed)?.OnSubscribed(m.Mode ?? "snapshot", new FeedPosition(epoch, seq));
                break;
            case "snapshot" when m is { Feed: { } feed, Doc: { } doc }:
                if (Store(feed) is { } target)
                {
                    var result = target.ApplySnapshot(doc with { Epoch = m.Epoch ?? doc.Epoch, Seq = m.Seq ?? doc.Seq });
                    if (result != ApplyResult.Applied)
                    {
                        Log($"{feed}: snapshot {m.Epoch}:{m.Seq} {result}");
                    }
                }

                break;
            case "delta" when m is { Feed: { } feed, Epoch: { } epoch, Seq: { } seq, Version: { } version, Totals: { } totals, UpdatedAt: { } at }:
                if (Store(feed) is { } store)
                {
                    var result = store.ApplyDelta(new FeedDelta(epoch, seq, version, totals, m.Rows ?? [], at));
                    if (result is ApplyResult.Gap or ApplyResult.Inconsistent)
                    {
                        Log($"{feed}: delta {epoch}:{seq} refused ({result}) at {store.Current.Position}");
                    }
                }

                break;
            case "drain":
                OnDrain(session, m);
                break;
            case "error":
                OnError(session, m);
                break;
            default:
                // pong, unsubscribed, and types of later versions: liveness only.
                break;
        }
    }

    private FeedStore? Store(string feed) => _stores.TryGetValue(feed, out var store) ? store : null;

    private void OnHello(Session session, ServerMessage m)
    {
        if (m.HeartbeatMs is { } heartbeat and > 0)
        {
            session.Heartbeat = TimeSpan.FromMilliseconds(heartbeat);
        }

        if (m.RetryWindowMs is { } window and >= 0)
        {
            _retryWindow = TimeSpan.FromMilliseconds(window);
        }

        if (m.Gateways is { } gateways && _gateways.Merge(gateways) > 0)
        {
            Log($"gateways now known: {string.Join(", ", _gateways.All)}");
        }

        session.Live = true;
        _backoff.Connected();
        _status.Publish(new ConnectionStatus(ConnectionState.Live, session.Url, m.Node, _backoff.Attempt, null, null, null), this);
        foreach (var store in _stores.Values)
        {
            Subscribe(session, store.Feed, store.ResumePosition);
        }
    }

    private void OnDrain(Session session, ServerMessage m)
    {
        if (session.DrainDeadline is not null)
        {
            return;
        }

        var wait = TimeSpan.FromMilliseconds(Math.Max(0, m.RetryAfterMs ?? 0));
        wait = wait > _options.MaxHint ? _options.MaxHint : wait;
        session.DrainDeadline = _time.GetUtcNow() + wait;
        Log($"{session.Url} is draining ({m.Reason}); moving in {wait.TotalMilliseconds:F0} ms");
        _ = LaterAsync(session, wait, () =>
        {
            session.EndReason = $"moved away from a draining node ({m.Reason})";
            session.RequestClose(WebSocketCloseStatus.NormalClosure, "drain");
        });
    }

    private void OnError(Session session, ServerMessage m)
    {
        Log($"server error {m.Code} {m.Feed}: {m.Message}");
        if (m.Feed is not { } feed || Store(feed) is not { } store)
        {
            return;
        }

        switch (m.Code)
        {
            case "unavailable" or "overloaded":
                var wait = m.RetryAfterMs is { } ms and >= 0
                    ? TimeSpan.FromMilliseconds(ms)
                    : _options.FeedRetryDelay * (0.5 + (Random.Shared.NextDouble()));
                wait = wait > _options.MaxHint ? _options.MaxHint : wait;
                _ = LaterAsync(session, wait, () =>
                {
                    if (Store(feed) is { } again)
                    {
                        Subscribe(session, feed, again.ResumePosition);
                    }
                });
                break;
            default:
                // unknown-feed, too-many-feeds, bad-message: retrying would get the same answer.
                store.MarkError(m.Code ?? "error", m.Message ?? "");
                break;
        }
    }

    private async Task LaterAsync(Session session, TimeSpan wait, Action action)
    {
        // The connection may end first (no exception then); the next one subscribes every feed anyway.
        // The token is taken now: the session's source is disposed when its connection ends.
        var token = session.Token;
        await Task.Delay(wait, _time, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!token.IsCancellationRequested)
        {
            action();
        }
    }

    private void OnResyncRequested(object? sender, ResyncRequest request)
    {
        if (Volatile.Read(ref _session) is { Live: true } session)
        {
            Log($"{request.Feed}: resync ({request.Reason}) from {request.Resume?.ToString() ?? "nothing"}");
            Subscribe(session, request.Feed, request.Resume);
        }
    }

    private static void Subscribe(Session session, string feed, FeedPosition? resume) =>
        session.Send(new ClientMessage
        {
            Type = "subscribe",
            Feed = feed,
            Resume = resume is { } at ? new ResumeJson(at.Epoch, at.Seq) : null,
        });

    // Ends when the session completes its queue (no cancellation exception per lost connection).
    private static async Task SendLoopAsync(Session session)
    {
        var reader = session.Outgoing.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                if (item.Close is { } close)
                {
                    await CloseQuietlyAsync(session.Socket, close, item.Reason).ConfigureAwait(false);
                    return;
                }

                await session.Socket.SendAsync(item.Payload, WebSocketMessageType.Text, true, session.Token).ConfigureAwait(false);
            }
        }
    }

    private async Task WatchdogAsync(Session session)
    {
        var pinged = false;
        while (!session.Token.IsCancellationRequested)
        {
            var heartbeat = session.Heartbeat;
            var period = TimeSpan.FromTicks(Math.Clamp(heartbeat.Ticks / 4, TimeSpan.FromMilliseconds(20).Ticks, TimeSpan.FromSeconds(1).Ticks));
            // Cancelled with the session: the loop ends without an exception.
            await Task.Delay(period, _time, session.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (session.Token.IsCancellationRequested)
            {
                return;
            }

            var silence = session.Silence;
            var limit = session.Live ? heartbeat * _options.DeadAfterHeartbeats : _options.ConnectTimeout;
            if (silence > limit)
            {
                session.EndReason = session.Live
                    ? $"no message for {silence.TotalMilliseconds:F0} ms (heartbeat {heartbeat.TotalMilliseconds:F0} ms)"
                    : $"no hello within {limit.TotalMilliseconds:F0} ms";
                session.Socket.Abort();
                return;
            }

            // A quiet link: one ping past 1.5 heartbeats (the server's heartbeats come within 1.2).
            if (session.Live && silence > heartbeat * 1.5)
            {
                if (!pinged)
                {
                    pinged = true;
                    session.Send(new ClientMessage { Type = "ping" });
                }
            }
            else
            {
                pinged = false;
            }
        }
    }

    private readonly record struct OutItem(byte[] Payload, WebSocketCloseStatus? Close, string? Reason);

    /// <summary>One connection: its socket, send queue, liveness clock and how it ended.</summary>
    private sealed class Session
    {
        private readonly CancellationTokenSource _cts;
        private readonly TimeProvider _time;
        private long _lastHeard;
        private volatile bool _live;

        public Session(ClientWebSocket socket, Uri url, TimeSpan heartbeat, TimeProvider time, CancellationToken stop)
        {
            Socket = socket;
            Url = url;
            Heartbeat = heartbeat;
            _time = time;
            _cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
            _lastHeard = time.GetTimestamp();
        }

        public ClientWebSocket Socket { get; }
        public Uri Url { get; }
        public TimeSpan Heartbeat { get; set; }
        public CancellationToken Token => _cts.Token;

        public Channel<OutItem> Outgoing { get; } = Channel.CreateUnbounded<OutItem>(new UnboundedChannelOptions { SingleReader = true });

        /// <summary>True after the server's hello.</summary>
        public bool Live
        {
            get => _live;
            set => _live = value;
        }

        public DateTimeOffset? DrainDeadline { get; set; }

        public string? EndReason { get; set; }

        public TimeSpan Silence => _time.GetElapsedTime(Interlocked.Read(ref _lastHeard));

        public void Heard() => Interlocked.Exchange(ref _lastHeard, _time.GetTimestamp());

        public void Send(ClientMessage message) =>
            Outgoing.Writer.TryWrite(new OutItem(JsonSerializer.SerializeToUtf8Bytes(message, TprcsJsonContext.Default.ClientMessage), null, null));

        public void RequestClose(WebSocketCloseStatus status, string reason) =>
            Outgoing.Writer.TryWrite(new OutItem([], status, reason));

        public async Task Cancel()
        {
            Outgoing.Writer.TryComplete();
            await _cts.CancelAsync().ConfigureAwait(false);
        }

        public void Dispose() => _cts.Dispose();
    }
}
