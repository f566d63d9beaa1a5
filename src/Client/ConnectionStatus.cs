namespace Tprcs.Client;

/// <summary>What the socket worker is doing.</summary>
public enum ConnectionState
{
    /// <summary>Not started.</summary>
    Idle = 0,

    /// <summary>The first connection is being made.</summary>
    Connecting = 1,

    /// <summary>A node said hello; feeds are subscribed.</summary>
    Live = 2,

    /// <summary>Not connected: waiting until <see cref="ConnectionStatus.NextAttemptAt"/>, or making that attempt (then <see cref="ConnectionStatus.NextAttemptAt"/> is null).</summary>
    Reconnecting = 3,

    /// <summary>Disposed.</summary>
    Stopped = 4,
}

/// <summary>The socket worker's connection status, published whole.</summary>
/// <param name="State">What the worker is doing.</param>
/// <param name="Gateway">The URL connected to, or being tried next.</param>
/// <param name="Node">The node that said hello (while live), else null.</param>
/// <param name="Attempt">The backoff attempt counter (0 after a stable connection).</param>
/// <param name="NextAttemptAt">When the next connection attempt starts, while waiting for it.</param>
/// <param name="StaleSince">When the last live connection was lost, while not live again; the data shown is stale since then.</param>
/// <param name="LastError">Why the last connection or attempt ended, if known.</param>
public sealed record ConnectionStatus(
    ConnectionState State,
    Uri? Gateway,
    string? Node,
    int Attempt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? StaleSince,
    string? LastError)
{
    /// <summary>The initial status.</summary>
    public static ConnectionStatus Idle { get; } = new(ConnectionState.Idle, null, null, 0, null, null, null);

    /// <summary>True while the data shown may be out of date because the connection was lost.</summary>
    public bool IsStale => StaleSince is not null;
}
