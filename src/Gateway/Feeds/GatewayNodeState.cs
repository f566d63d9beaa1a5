using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Tprcs.Contracts;

namespace Tprcs.Gateway.Feeds;

/// <summary>
/// This gateway node as the cluster and its clients see it: its connections, admission budgets,
/// the other live nodes, the first-retry window it gives clients, and the drain at shutdown.
/// </summary>
public sealed partial class GatewayNodeState
{
    // Each connection with the time its next heartbeat is due.
    private readonly ConcurrentDictionary<FeedConnection, long> _connections = new();
    private readonly FeedGatewayOptions _options;
    private readonly IServer _server;
    private readonly TimeProvider _time;
    private readonly ILogger<GatewayNodeState> _logger;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile GatewayNode[] _peers = [];

    public GatewayNodeState(IOptions<FeedGatewayOptions> options, IServer server, TimeProvider time, ILogger<GatewayNodeState> logger)
    {
        _options = options.Value;
        _server = server;
        _time = time;
        _logger = logger;
        Upgrades = new TokenBucket(_options.AdmissionPerSecond, _options.AdmissionBurst, time);
        Subscriptions = new TokenBucket(_options.SubscriptionsPerSecond, _options.SubscriptionsPerSecond, time);
    }

    public string NodeId { get; } = Guid.NewGuid().ToString("N")[..12];
    public TokenBucket Upgrades { get; }
    public TokenBucket Subscriptions { get; }
    public int Connections => _connections.Count;
    public bool Draining { get; private set; }

    public string Url =>
        _options.PublicUrl
        ?? _server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
        ?? "";

    /// <summary>WebSocket URLs of the live nodes (this one included), for clients to rotate across; built once per list of peers.</summary>
    public string[] GatewayUrls => _gatewayUrls ??=
        _peers.Where(p => !p.Draining).Select(p => ToWebSocketUrl(p.Url)).DefaultIfEmpty(ToWebSocketUrl(Url)).Distinct().ToArray();

    private volatile string[]? _gatewayUrls;

    public GatewayNode Describe() => new(NodeId, Url, Connections, _options.AdmissionPerSecond, Draining);

    public void UpdatePeers(GatewayNode[] nodes)
    {
        _peers = nodes;
        _gatewayUrls = null;
    }

    /// <summary>
    /// The first-retry window (docs/protocol.md): the time the other live nodes need to admit this
    /// node's clients at their admission rate; this node's own rate when it is alone.
    /// </summary>
    public int RetryWindowMs
    {
        get
        {
            var others = _peers.Where(p => p.NodeId != NodeId && !p.Draining).Sum(p => p.AdmissionPerSecond);
            var capacity = others > 0 ? others : _options.AdmissionPerSecond;
            var ms = 1000.0 * Connections / capacity;
            return (int)Math.Min(ms, _options.MaxRetryWindow.TotalMilliseconds);
        }
    }

    public void Add(FeedConnection connection) => _connections[connection] = NextHeartbeatAt();

    /// <summary>
    /// Heartbeats for every connection from one loop (no timer per connection): each connection is
    /// due at its own jittered time, heartbeat interval ±20%, so they never go out in step.
    /// </summary>
    public async Task RunHeartbeatsAsync(CancellationToken cancellationToken)
    {
        var tick = _options.HeartbeatInterval / 10;
        using var timer = new PeriodicTimer(tick < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : tick, _time);
        var told = 0;
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var now = _time.GetTimestamp();
            OutMessage? message = null;
            // Clients learn the first-retry window from hello and heartbeats. While a node fills up,
            // what early clients heard is far too small; once the window has grown by a quarter (and
            // by half a second), everyone is told at once, so that a node that dies right after
            // filling up still spreads its herd over nearly the whole window it needs (a fill from
            // empty to 5 s is announced about seven times: ~0.1 s of sends per 10,000 clients each).
            var window = RetryWindowMs;
            if (window < told / 2)
            {
                // The node has emptied: a later refill is announced again.
                told = window;
            }

            var everyone = window > told + 500 && window > told * 5 / 4;
            if (everyone)
            {
                told = window;
            }

            foreach (var (connection, due) in _connections)
            {
                if (due > now && !everyone)
                {
                    continue;
                }

                message ??= OutMessage.Control(new HeartbeatMessage("heartbeat", _time.GetUtcNow().ToUnixTimeMilliseconds(), window),
                    FeedJsonContext.Default.HeartbeatMessage);
                // TryUpdate: a connection removed meanwhile must not be added back.
                if (_connections.TryUpdate(connection, NextHeartbeatAt(), due))
                {
                    connection.Heartbeat(message);
                }
            }
        }
    }

    private long NextHeartbeatAt() =>
        _time.GetTimestamp() + (long)(_options.HeartbeatInterval.TotalSeconds * (0.8 + (Random.Shared.NextDouble() * 0.4)) * _time.TimestampFrequency);

    public void Remove(FeedConnection connection)
    {
        _connections.TryRemove(connection, out _);
        if (Draining && _connections.IsEmpty)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>
    /// Stops admitting, tells each client to leave after its own random delay within the drain
    /// window, then closes whoever is still connected.
    /// </summary>
    public async Task DrainAsync()
    {
        Draining = true;
        var window = _options.DrainWindow;
        LogDraining(_logger, _connections.Count, window);
        foreach (var connection in _connections.Keys)
        {
            var delay = (int)(Random.Shared.NextDouble() * window.TotalMilliseconds);
            connection.Enqueue(OutMessage.Control(new DrainMessage("drain", delay, "shutdown"), FeedJsonContext.Default.DrainMessage));
        }

        // Clients leave at their given time; a little grace covers their close handshakes.
        if (!_connections.IsEmpty)
        {
            using var timeout = new CancellationTokenSource(window + TimeSpan.FromSeconds(1), _time);
            await _drained.Task.WaitAsync(timeout.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        foreach (var connection in _connections.Keys)
        {
            connection.Abort();
        }
    }

    private static string ToWebSocketUrl(string url) =>
        url.Length == 0 ? url : new UriBuilder(url) { Scheme = url.StartsWith("https", StringComparison.OrdinalIgnoreCase) ? "wss" : "ws", Path = "/ws" }.Uri.ToString();

    [LoggerMessage(EventId = 4301, Level = LogLevel.Information, Message = "Draining {Connections} connections over {Window}")]
    private static partial void LogDraining(ILogger logger, int connections, TimeSpan window);
}

/// <summary>Announces this node to the cluster's registry and keeps the list of live nodes.</summary>
public sealed partial class NodeAnnouncer(
    GatewayNodeState node,
    IClusterClient cluster,
    IOptions<FeedGatewayOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<NodeAnnouncer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var heartbeats = node.RunHeartbeatsAsync(stoppingToken);
        try
        {
            await AnnounceAsync(stoppingToken);
        }
        finally
        {
            await heartbeats.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task AnnounceAsync(CancellationToken stoppingToken)
    {
        // Only once Kestrel listens is the node's real address (port included) known.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }

        var registry = cluster.GetGrain<IGatewayRegistryGrain>(0);
        using var timer = new PeriodicTimer(options.Value.AnnounceInterval, time);
        do
        {
            try
            {
                node.UpdatePeers(await registry.Announce(node.Describe()));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogAnnounceFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await cluster.GetGrain<IGatewayRegistryGrain>(0).Leave(node.NodeId).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Leaving is a courtesy: the registry drops a silent node after its expiry anyway.
            LogLeaveFailed(logger, ex.Message);
        }
    }

    [LoggerMessage(EventId = 4303, Level = LogLevel.Debug, Message = "Leaving the gateway registry failed ({Reason}); the entry will expire")]
    private static partial void LogLeaveFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Warning, Message = "Announcing this gateway node to the cluster failed")]
    private static partial void LogAnnounceFailed(ILogger logger, Exception exception);
}
