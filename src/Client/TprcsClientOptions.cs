using System.Net.WebSockets;

namespace Tprcs.Client;

/// <summary>Settings of a <see cref="TprcsClient"/> and its <see cref="FeedSocketWorker"/>. Every property documents its default.</summary>
public sealed class TprcsClientOptions
{
    /// <summary>
    /// The gateways' WebSocket URLs (<c>ws://host:port/ws</c> or <c>wss://...</c>), tried in turn.
    /// An <c>http(s)</c> URL is turned into <c>ws(s)</c>, and a URL without a path gets <c>/ws</c>.
    /// The <c>gateways</c> a node announces in <c>hello</c> are added to these. Required: at least one.
    /// </summary>
    public IList<Uri> Gateways { get; set; } = [];

    /// <summary>The ceiling of the first backoff attempt (base). Default: 100 ms.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The largest backoff ceiling (cap). Default: 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a connection must stay up for the backoff attempt counter to start again from 0. Default: 30 s.</summary>
    public TimeSpan StablePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest server hint honoured (<c>retryAfterMs</c>, <c>Retry-After</c>, <c>retry-after:N</c>); longer ones are cut to it. Default: 5 minutes.</summary>
    public TimeSpan MaxHint { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the WebSocket handshake may take, and how long a new connection may stay silent before its <c>hello</c>. Default: 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The heartbeat period assumed until the server's <c>hello</c> gives its own <c>heartbeatMs</c>. Default: 15 s.</summary>
    public TimeSpan DefaultHeartbeat { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>A connection that delivered no message for this many heartbeat periods is dead: it is closed and the worker reconnects. Default: 2.</summary>
    public double DeadAfterHeartbeats { get; set; } = 2;

    /// <summary>How long to wait before subscribing again to a feed the server could not open (<c>unavailable</c>) or refused as <c>overloaded</c> without a hint; jittered ±50%. Default: 2 s.</summary>
    public TimeSpan FeedRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>While a store's resync is pending, it asks again only after this long. Default: 5 s.</summary>
    public TimeSpan ResyncRetry { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The largest server message accepted; a larger one closes the connection. Default: 32 MiB.</summary>
    public int MaxMessageBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>The clock of timers, heartbeats and backoff. Default: null, meaning <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>The randomness of the backoff jitter. Default: null, meaning <see cref="Random.Shared"/>.</summary>
    public Random? Random { get; set; }

    /// <summary>Called on every new <see cref="ClientWebSocketOptions"/> before connecting (headers, proxy, certificates...). Default: null.</summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>Receives one-line diagnostics (connects, closes, hints, refused messages). Default: null (silent).</summary>
    public Action<string>? Log { get; set; }

    internal void Validate()
    {
        if (Gateways is null || Gateways.Count == 0)
        {
            throw new ArgumentException("At least one gateway URL is required (TprcsClientOptions.Gateways).", nameof(Gateways));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(BaseDelay, TimeSpan.Zero, nameof(BaseDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, BaseDelay, nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(StablePeriod, TimeSpan.Zero, nameof(StablePeriod));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero, nameof(ConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DefaultHeartbeat, TimeSpan.Zero, nameof(DefaultHeartbeat));
        ArgumentOutOfRangeException.ThrowIfLessThan(DeadAfterHeartbeats, 1.0, nameof(DeadAfterHeartbeats));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1024, nameof(MaxMessageBytes));
    }
}
