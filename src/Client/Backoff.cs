namespace Tprcs.Client;

/// <summary>
/// Reconnection delays (docs/protocol.md, "Reconnecting"): exponential backoff with full jitter.
/// Attempt <c>n</c> (0-based) waits a uniform random time in [0, min(cap, base · 2ⁿ)]. The first
/// attempt after losing a connection instead draws from [0, max(base, retryWindow)], the window
/// the lost node last announced. A server hint longer than the drawn delay wins. The attempt
/// counter resets once a connection has stayed up for the stable period. Never gives up.
/// </summary>
/// <remarks>Pure: the randomness and the clock are given. Not thread-safe: one reconnect loop owns it.</remarks>
public sealed class Backoff
{
    private readonly Func<double> _random;
    private readonly TimeProvider _time;
    private long? _upSince;
    private TimeSpan? _window;
    private TimeSpan? _hint;

    /// <summary>Creates a backoff.</summary>
    /// <param name="baseDelay">The ceiling of attempt 0 (100 ms in the protocol).</param>
    /// <param name="cap">The largest ceiling (30 s in the protocol).</param>
    /// <param name="stablePeriod">How long a connection must stay up for the attempt counter to start again from 0 (30 s).</param>
    /// <param name="random">Uniform draws in [0, 1).</param>
    /// <param name="time">The clock of the stable period.</param>
    /// <param name="maxHint">Longest server hint honoured (longer ones are cut to it); 5 minutes by default.</param>
    public Backoff(TimeSpan baseDelay, TimeSpan cap, TimeSpan stablePeriod, Func<double> random, TimeProvider time, TimeSpan? maxHint = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(baseDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(cap, baseDelay);
        ArgumentOutOfRangeException.ThrowIfLessThan(stablePeriod, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(time);
        BaseDelay = baseDelay;
        Cap = cap;
        StablePeriod = stablePeriod;
        MaxHint = maxHint ?? TimeSpan.FromMinutes(5);
        _random = random;
        _time = time;
    }

    /// <summary>Creates a backoff drawing from <paramref name="random"/>.</summary>
    public Backoff(TimeSpan baseDelay, TimeSpan cap, TimeSpan stablePeriod, Random random, TimeProvider time, TimeSpan? maxHint = null)
        : this(baseDelay, cap, stablePeriod, (random ?? throw new ArgumentNullException(nameof(random))).NextDouble, time, maxHint)
    {
    }

    /// <summary>Creates a backoff with the settings of <paramref name="options"/>.</summary>
    public Backoff(TprcsClientOptions options)
        : this(
            (options ?? throw new ArgumentNullException(nameof(options))).BaseDelay,
            options.MaxDelay,
            options.StablePeriod,
            (options.Random ?? Random.Shared).NextDouble,
            options.TimeProvider ?? TimeProvider.System,
            options.MaxHint)
    {
    }

    /// <summary>The ceiling of attempt 0.</summary>
    public TimeSpan BaseDelay { get; }

    /// <summary>The largest ceiling.</summary>
    public TimeSpan Cap { get; }

    /// <summary>The stable period.</summary>
    public TimeSpan StablePeriod { get; }

    /// <summary>The longest hint honoured.</summary>
    public TimeSpan MaxHint { get; }

    /// <summary>The attempt the next <see cref="NextDelay"/> is for (0-based).</summary>
    public int Attempt { get; private set; }

    /// <summary>The ceiling of attempt <paramref name="attempt"/>: min(cap, base · 2^attempt).</summary>
    public TimeSpan Ceiling(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        var ticks = BaseDelay.Ticks * Math.Pow(2, Math.Min(attempt, 62));
        return ticks >= Cap.Ticks ? Cap : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>A uniform draw in [0, <paramref name="ceiling"/>].</summary>
    public TimeSpan Draw(TimeSpan ceiling) => TimeSpan.FromTicks((long)(Math.Clamp(_random(), 0, 1) * ceiling.Ticks));

    /// <summary>A connection is up (the server said hello): the stable period starts.</summary>
    public void Connected() => _upSince = _time.GetTimestamp();

    /// <summary>
    /// A connection that was up is lost. If it stayed up for the stable period the attempt counter
    /// starts again from 0. The next delay is drawn from [0, max(base, <paramref name="retryWindow"/>)]
    /// when the node announced a window.
    /// </summary>
    public void ConnectionLost(TimeSpan? retryWindow)
    {
        if (_upSince is { } up && _time.GetElapsedTime(up) >= StablePeriod)
        {
            Attempt = 0;
        }

        _upSince = null;
        _window = retryWindow;
    }

    /// <summary>A server hint for the next wait: the next delay is at least this long (several hints: the longest).</summary>
    public void Hint(TimeSpan hint)
    {
        if (hint < TimeSpan.Zero)
        {
            return;
        }

        hint = hint > MaxHint ? MaxHint : hint;
        _hint = _hint is { } held && held > hint ? held : hint;
    }

    /// <summary>
    /// The wait before the next attempt, which it counts: the first-retry window draw right after a
    /// lost connection, else the full-jitter draw of the current attempt; a longer hint wins, and
    /// is itself spread over [hint, 2 x hint] (at most <see cref="MaxHint"/>).
    /// </summary>
    public TimeSpan NextDelay()
    {
        var ceiling = _window is { } window
            ? (window > BaseDelay ? window : BaseDelay)
            : Ceiling(Attempt);
        var delay = Draw(ceiling);
        _window = null;
        if (Attempt < int.MaxValue)
        {
            Attempt++;
        }

        if (_hint is { } hint && hint > delay)
        {
            // Clients refused together get the same hint; each waits a uniform time in
            // [hint, 2 x hint] so that they do not all come back in the same instant.
            delay = hint + Draw(hint);
            delay = delay > MaxHint ? MaxHint : delay;
        }

        _hint = null;
        return delay;
    }
}
