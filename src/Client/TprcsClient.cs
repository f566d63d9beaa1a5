using System.Collections.Concurrent;

namespace Tprcs.Client;

/// <summary>
/// The SDK's entry point: one <see cref="FeedSocketWorker"/> (one WebSocket at a time) and one
/// <see cref="FeedStore"/> per watched feed. <c>Watch</c> a feed, read <see cref="FeedStore.Current"/>
/// or subscribe to its states; the connection, heartbeats, reconnection and resume are the worker's job.
/// </summary>
/// <example>
/// <code>
/// await using var client = new TprcsClient(new TprcsClientOptions { Gateways = [new Uri("ws://localhost:5080/ws")] });
/// var edo = client.Watch("edo-2024-gov/ED");
/// using var _ = edo.Subscribe(state => Console.WriteLine($"{state.Status} v{state.Version}: {state.Totals?.TotalValid}"));
/// </code>
/// </example>
public sealed class TprcsClient : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, FeedStore> _stores = new(StringComparer.Ordinal);
    private readonly TprcsClientOptions _options;

    /// <summary>Creates a client; it connects on the first <see cref="Watch"/> (or <see cref="StartAsync"/>).</summary>
    public TprcsClient(TprcsClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        Worker = new FeedSocketWorker(options);
    }

    /// <summary>Creates a client of the given gateways with default settings.</summary>
    public TprcsClient(params Uri[] gateways)
        : this(new TprcsClientOptions { Gateways = gateways })
    {
    }

    /// <summary>The socket worker.</summary>
    public FeedSocketWorker Worker { get; }

    /// <summary>The current connection status.</summary>
    public ConnectionStatus Status => Worker.Status;

    /// <summary>The connection statuses: the current one at once, then every change.</summary>
    public IObservable<ConnectionStatus> StatusChanges => Worker.StatusChanges;

    /// <summary>The feed id of an area: <c>"{electionId}/{areaCode}"</c>.</summary>
    public static string FeedId(string electionId, string areaCode)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(electionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(areaCode);
        return $"{electionId}/{areaCode}";
    }

    /// <summary>Starts the connection loop (also done by the first <see cref="Watch"/>).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => Worker.StartAsync(cancellationToken);

    /// <summary>The store of <paramref name="feed"/> (<c>"{electionId}/{areaCode}"</c>), created and subscribed on first call; the same store on later calls.</summary>
    public FeedStore Watch(string feed)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(feed);
        var store = _stores.GetOrAdd(feed, f => new FeedStore(f, _options.TimeProvider, _options.ResyncRetry));
        Worker.Add(store);
        _ = Worker.StartAsync();
        return store;
    }

    /// <summary>Stops watching <paramref name="feed"/>; its store keeps its last state but receives nothing more.</summary>
    public bool Unwatch(string feed) => _stores.TryRemove(feed, out _) && Worker.Remove(feed);

    /// <summary>Closes the connection and stops.</summary>
    public ValueTask DisposeAsync() => Worker.DisposeAsync();
}
