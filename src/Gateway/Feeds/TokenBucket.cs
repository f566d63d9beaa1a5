namespace Tprcs.Gateway.Feeds;

/// <summary>
/// A token bucket: <c>rate</c> tokens a second, at most <c>burst</c> saved. A refusal says how long
/// to wait, growing with the number refused in the last second so that a herd is told to spread
/// out rather than to come back all at once.
/// </summary>
public sealed class TokenBucket(double ratePerSecond, double burst, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly double _burst = burst;
    private double _tokens = burst;
    private long _last = time.GetTimestamp();
    private long _refusedWindowStart = time.GetTimestamp();
    private int _refusedInWindow;

    public double RatePerSecond => ratePerSecond;

    public bool TryTake(out TimeSpan retryAfter)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (time.GetElapsedTime(_last, now).TotalSeconds * ratePerSecond));
            _last = now;
            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            if (time.GetElapsedTime(_refusedWindowStart, now) > TimeSpan.FromSeconds(1))
            {
                _refusedWindowStart = now;
                _refusedInWindow = 0;
            }

            _refusedInWindow++;
            // The refused clients of the last second need refused / rate seconds to be admitted.
            retryAfter = TimeSpan.FromSeconds(((1 - _tokens) / ratePerSecond) + (_refusedInWindow / ratePerSecond));
            return false;
        }
    }
}
