using System.Collections.Concurrent;

namespace Tprcs.Load;

/// <summary>
/// Per update (feed, seq): when the area published it (the delta's <c>updatedAt</c>, set by the area
/// grain; same machine clock), how many clients received it and when the last one did. Also counts
/// deliveries and keeps the first copy of each update for the SignalR replay.
/// </summary>
public sealed class UpdateTracker
{
    private sealed class Update(long updatedAtUs)
    {
        public readonly long UpdatedAtUs = updatedAtUs;
        public long LastUs;
        public int Count;
    }

    private readonly ConcurrentDictionary<long, Update> _updates = new();
    private readonly ConcurrentDictionary<string, int> _feedIndex = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedUpdate> _recording = new();
    private readonly ConcurrentDictionary<long, byte> _warmupSeen = new();
    private long _deliveries;
    private long _recordFromUs = long.MaxValue;
    private long _fromUs = long.MaxValue;
    private long _toUs = long.MaxValue;

    public static long NowUs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    public bool Record { get; set; }

    /// <summary>Only these updates (feed, seq) count, whenever they were stamped (the SignalR replay of a recording).</summary>
    public HashSet<(string Feed, long Seq)>? MeasureOnly { get; init; }

    /// <summary>
    /// The feed's number, the same for every caller. Clients are made on many threads at once: a
    /// number taken from the count inside GetOrAdd's factory could be given to two feeds, whose
    /// updates would then be counted as one.
    /// </summary>
    public int FeedIndex(string feed)
    {
        if (_feedIndex.TryGetValue(feed, out var index))
        {
            return index;
        }

        lock (_feedIndex)
        {
            return _feedIndex.GetOrAdd(feed, _feedIndex.Count);
        }
    }

    /// <summary>The warm-up starts: its updates do not count, but are recorded (marked) so that a replay warms up alike.</summary>
    public void StartWarmup() => Volatile.Write(ref _recordFromUs, NowUs());

    /// <summary>Only updates published from now on count (clients connected and idle before).</summary>
    public void StartMeasuring()
    {
        _fromUs = NowUs();
        if (MeasureOnly is not null)
        {
            // Only the listed updates were ever counted: nothing to forget.
            return;
        }

        Interlocked.Exchange(ref _deliveries, 0);
        _updates.Clear();
        Volatile.Write(ref _toUs, long.MaxValue);
    }

    /// <summary>Updates published from now on do not count; those published before still do when they arrive.</summary>
    public void StopMeasuring() => Volatile.Write(ref _toUs, NowUs());

    /// <summary>The measured publication window in seconds (start to stop).</summary>
    public double WindowSeconds => (Volatile.Read(ref _toUs) - Volatile.Read(ref _fromUs)) / 1e6;

    public long Deliveries => Interlocked.Read(ref _deliveries);

    public IReadOnlyCollection<RecordedUpdate> Recording => _recording;

    /// <summary>One client received one delta.</summary>
    public void Delivered(int feedIndex, string feed, long seq, long updatedAtUs, ReadOnlySpan<byte> payload)
    {
        if (MeasureOnly is not null)
        {
            if (!MeasureOnly.Contains((feed, seq)))
            {
                return;
            }
        }
        else if (updatedAtUs < Volatile.Read(ref _fromUs))
        {
            if (Record && updatedAtUs >= Volatile.Read(ref _recordFromUs) && _warmupSeen.TryAdd(((long)feedIndex << 40) | seq, 0))
            {
                _recording.Enqueue(new RecordedUpdate(updatedAtUs, feed, seq, payload.ToArray()) { Warmup = true });
            }

            return;
        }
        else if (updatedAtUs > Volatile.Read(ref _toUs))
        {
            return;
        }

        var now = NowUs();
        Interlocked.Increment(ref _deliveries);
        var key = ((long)feedIndex << 40) | seq;
        if (!_updates.TryGetValue(key, out var u))
        {
            var fresh = new Update(updatedAtUs);
            u = _updates.GetOrAdd(key, fresh);
            if (ReferenceEquals(u, fresh) && Record)
            {
                _recording.Enqueue(new RecordedUpdate(updatedAtUs, feed, seq, payload.ToArray()));
            }
        }

        Interlocked.Increment(ref u.Count);
        long last;
        while ((last = Volatile.Read(ref u.LastUs)) < now && Interlocked.CompareExchange(ref u.LastUs, now, last) != last)
        {
        }
    }

    /// <summary>Per second of the window: how many updates were published, and their median and largest latency to the last client.</summary>
    public IEnumerable<string> Timeline()
    {
        var from = Volatile.Read(ref _fromUs);
        foreach (var second in _updates.Values.GroupBy(u => (u.UpdatedAtUs - from) / 1_000_000).OrderBy(g => g.Key))
        {
            var ms = second.Select(u => (u.LastUs - u.UpdatedAtUs) / 1000.0).Order().ToList();
            yield return $"  {second.Key,4} s  {ms.Count,4} updates  p50 {ms[ms.Count / 2],5:N0} ms  max {ms[^1],5:N0} ms";
        }
    }

    /// <summary>Latency from publication to the last receiving client, over updates every expected watcher received.</summary>
    public LatencySummary Summarize(Func<int, int> expectedReceivers, Func<int, bool>? feeds = null)
    {
        var complete = new List<double>();
        var incomplete = 0;
        foreach (var (key, u) in _updates)
        {
            var feed = (int)(key >> 40);
            if (feeds is not null && !feeds(feed))
            {
                continue;
            }

            if (u.Count >= expectedReceivers(feed))
            {
                complete.Add((u.LastUs - u.UpdatedAtUs) / 1000.0);
            }
            else
            {
                incomplete++;
            }
        }

        complete.Sort();
        double At(double q) => complete.Count == 0 ? double.NaN : complete[Math.Min(complete.Count - 1, (int)(complete.Count * q))];
        return new LatencySummary(complete.Count, incomplete, At(0.5), At(0.99), complete.Count == 0 ? double.NaN : complete[^1]);
    }
}

public sealed record RecordedUpdate(long UpdatedAtUs, string Feed, long Seq, byte[] Payload)
{
    /// <summary>Published during the warm-up: replayed, not measured.</summary>
    public bool Warmup { get; init; }
}

public sealed record LatencySummary(int Updates, int Incomplete, double P50Ms, double P99Ms, double MaxMs);
