using System.ComponentModel.DataAnnotations;

namespace Tprcs.Gateway.Feeds;

/// <summary>The observers' WebSocket feeds on this gateway node (section <c>Tprcs:Feeds:Gateway</c>).</summary>
public sealed class FeedGatewayOptions
{
    public const string Section = "Tprcs:Feeds:Gateway";

    /// <summary>Bytes of messages a connection may have queued before its deltas are dropped and replaced by a snapshot when it catches up. Default: 256 KiB.</summary>
    [Range(4_096, 64 * 1024 * 1024)]
    public int SendQueueBytes { get; set; } = 256 * 1024;

    /// <summary>How many times in a row a connection may overflow its queue before it is closed with code 4008. Default: 8.</summary>
    [Range(1, 1_000)]
    public int MaxConsecutiveOverflows { get; set; } = 8;

    /// <summary>Feeds one connection may watch at once. Default: 32.</summary>
    [Range(1, 10_000)]
    public int MaxFeedsPerConnection { get; set; } = 32;

    /// <summary>Largest message a client may send, in bytes. Default: 4 KiB.</summary>
    [Range(256, 1024 * 1024)]
    public int MaxClientMessageBytes { get; set; } = 4_096;

    /// <summary>Recent deltas kept per feed on this node for resumes. Default: 256.</summary>
    [Range(0, 100_000)]
    public int DeltaWindow { get; set; } = 256;

    /// <summary>Mean interval of the server's heartbeat messages; each is jittered by ±20%. Default: 15 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often every feed asks its grain whether it missed the last update. Default: 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan TailCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a feed nobody watches keeps its stream subscription before it is dropped. Default: 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan IdleFeedLifetime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>WebSocket upgrades this node admits per second (token bucket); beyond it, 503 with Retry-After. Default: 1,000.</summary>
    [Range(1, 1_000_000)]
    public double AdmissionPerSecond { get; set; } = 1_000;

    /// <summary>Upgrades admitted at once after a quiet period (the bucket's size). Default: 1,000.</summary>
    [Range(1, 1_000_000)]
    public double AdmissionBurst { get; set; } = 1_000;

    /// <summary>Subscriptions this node admits per second; beyond it, error "overloaded" with retryAfterMs. Default: 2,000.</summary>
    [Range(1, 10_000_000)]
    public double SubscriptionsPerSecond { get; set; } = 2_000;

    /// <summary>On shutdown, clients are told to leave at random times spread over this window; then the rest are closed. Default: 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often this node announces itself (URL, connections, admission rate) to the cluster. Default: 2 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan AnnounceInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The URL clients use to reach this node (sent to clients in hello). Default: the first address Kestrel listens on.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>Interval of WebSocket pings on connections served through ASP.NET Core's WebSockets (direct connections are pinged with each heartbeat). Default: 20 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>A client that does not answer a ping within this time is dropped (direct connections: silent for 1.2 heartbeat intervals plus this). Default: 20 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Serve <c>/ws</c> upgrades on plain-HTTP endpoints at the connection level, with the gateway's
    /// own WebSocket framing: each update framed once for all clients, a client's queued frames sent
    /// with one write, no HTTP objects kept per connection. When false (or on TLS endpoints), the
    /// ASP.NET Core WebSocket path serves them. Default: true.
    /// </summary>
    public bool DirectWebSockets { get; set; } = true;

    /// <summary>Upper bound of the first-retry window sent to clients. Default: 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan MaxRetryWindow { get; set; } = TimeSpan.FromSeconds(60);
}
