using System.Collections.Concurrent;
using System.Diagnostics;
using Tprcs.Client;

namespace Tprcs.Load;

public sealed record StormResult(
    string Mode,
    int Clients,
    int LiveBefore,
    int Resynced,
    double AllResyncedSeconds,
    double P50Seconds,
    double P99Seconds,
    int PeakAttemptsPer100Ms,
    double PeakAtSeconds,
    int Attempts,
    int Refused503,
    int OtherFailures,
    string LoadAverage)
{
    /// <summary>Clients on gateway 1 when it was killed (the others had moved during the setup).</summary>
    public int OnKilledNode { get; init; }

    /// <summary>
    /// The largest number of first attempts in one 100 ms step when each client's first attempt is
    /// counted from the moment that client noticed the loss: the herd as it would arrive had every
    /// client seen the close at the same instant (here the kernel closes a killed node's sockets one
    /// after another, which spreads the raw herd by itself).
    /// </summary>
    public int AlignedPeakPer100Ms { get; init; }

    /// <summary>The aligned peak from first attempts: the largest 100 ms step of (first attempt − notice).</summary>
    public static int AlignedPeak(IEnumerable<(long LostAt, long FirstAttemptAt)> clients) =>
        clients.Where(c => c.LostAt > 0 && c.FirstAttemptAt >= c.LostAt)
            .GroupBy(c => (c.FirstAttemptAt - c.LostAt) * 10 / Stopwatch.Frequency)
            .Select(g => g.Count()).DefaultIfEmpty().Max();
}

/// <summary>
/// The reconnect storm: N SDK clients (src/Client: its real backoff, first-retry window and
/// gateway rotation) live on gateway 1 of a 3-node cluster; gateway 1 is SIGKILLed; how long until
/// every client shows the current state again from the other nodes, and how hard the herd hits them.
/// </summary>
public static class Storm
{
    /// <summary>"Jitter off": every draw is the top of its range, so the delay is exactly the ceiling (base·2ⁿ).</summary>
    private sealed class NoJitter : Random
    {
        public override double NextDouble() => 1.0;
    }

    private sealed class Watched
    {
        public required TprcsClient Client;
        public required FeedStore[] Stores;
        public long[] LastChange = [];
        public long ReconnectedAt;
        public long LostAt;
        public long FirstAttemptAt;
    }

    public static async Task<StormResult> RunAsync(ElectionPlan plan, int n, bool jitter, int silos, string token)
    {
        var mode = jitter ? "jitter on (SDK defaults)" : "jitter off (draws = ceiling; server window 0)";
        await using var cluster = await StartClusterAsync(plan, mode, jitter, silos, token);
        var urls = cluster.Gateways.Select(g => new Uri(g.Url, "/ws")).ToArray();
        var clock = Stopwatch.StartNew();
        var attempts = new ConcurrentQueue<long>();
        var refused = 0;
        var otherFailures = 0;
        var watched = new Watched[n];
        var failureKinds = new ConcurrentDictionary<string, int>();
        long killedAtTicks = 0;
        Console.WriteLine($"  connecting {n:N0} SDK clients to gateway 1 ({urls[0]})...");
        for (var i = 0; i < n; i++)
        {
            var reconnecting = new Watched[1];
            var options = new TprcsClientOptions
            {
                // Gateway 1 first, the others after (alternating their order, as clients configured by different people would).
                Gateways = i % 2 == 0 ? [urls[0], urls[1], urls[2]] : [urls[0], urls[2], urls[1]],
                ConfigureWebSocket = _ =>
                {
                    var at = clock.ElapsedTicks;
                    attempts.Enqueue(at);
                    if (Volatile.Read(ref killedAtTicks) != 0 && reconnecting[0] is { LostAt: > 0 } self)
                    {
                        Interlocked.CompareExchange(ref self.FirstAttemptAt, at, 0);
                    }
                },
                Random = jitter ? null : new NoJitter(),
                Log = line =>
                {
                    if (line.StartsWith("connect to", StringComparison.Ordinal))
                    {
                        var kind = line[(line.IndexOf("failed: ", StringComparison.Ordinal) + 8)..];
                        kind = System.Text.RegularExpressions.Regex.Replace(kind, "[0-9.:]+", "#");
                        failureKinds.AddOrUpdate(kind.Length > 60 ? kind[..60] : kind, 1, (_, c) => c + 1);
                        if (line.Contains("HTTP 503", StringComparison.Ordinal))
                        {
                            Interlocked.Increment(ref refused);
                        }
                        else
                        {
                            Interlocked.Increment(ref otherFailures);
                        }
                    }
                },
            };
            var client = new TprcsClient(options);
            client.StatusChanges.Subscribe(new StatusObserver(status =>
            {
                // The loss noticed, and live again on another node after the kill: when it happens, not when a poll sees it.
                if (Volatile.Read(ref killedAtTicks) != 0 && status.State == ConnectionState.Reconnecting && reconnecting[0] is { } lost)
                {
                    Interlocked.CompareExchange(ref lost.LostAt, clock.ElapsedTicks, 0);
                }

                if (Volatile.Read(ref killedAtTicks) != 0 && status.State == ConnectionState.Live && status.Gateway?.Port != urls[0].Port
                    && reconnecting[0] is { } me)
                {
                    Interlocked.CompareExchange(ref me.ReconnectedAt, clock.ElapsedTicks, 0);
                }
            }));
            var w = new Watched { Client = client, Stores = [client.Watch(plan.RootFeed), client.Watch(plan.ChildFeed(i))] };
            w.LastChange = new long[w.Stores.Length];
            for (var s = 0; s < w.Stores.Length; s++)
            {
                var index = s;
                w.Stores[s].Changed += (_, _) => Volatile.Write(ref w.LastChange[index], clock.ElapsedTicks);
            }

            watched[i] = w;
            reconnecting[0] = w;
            if (i % 500 == 499)
            {
                // About 2,000 new clients a second: faster, and the clients' own CPU makes some connects
                // time out, which sends them to the other nodes before the storm.
                await Task.Delay(250);
            }
        }

        bool IsLive(Watched w) => w.Client.Status.State == ConnectionState.Live && w.Stores.All(s => s.Current.Status == FeedStatus.Live);
        var deadline = DateTime.UtcNow.AddSeconds(240);
        while (watched.Count(IsLive) < n && DateTime.UtcNow < deadline)
        {
            Console.Write($"\r  live {watched.Count(IsLive),6:N0} / {n:N0}   {clock.Elapsed.TotalSeconds,4:N0} s   ");
            await Task.Delay(1000);
        }

        var liveBefore = watched.Count(IsLive);
        var onFirst = watched.Count(w => w.Client.Status.Gateway?.Port == urls[0].Port);
        Console.WriteLine($"\r  live {liveBefore:N0} / {n:N0} ({onFirst:N0} on gateway 1) after {clock.Elapsed.TotalSeconds:N0} s; gateway 1 RSS {cluster.Gateways[0].Process.RssBytes >> 20} MiB");
        if (Environment.GetEnvironmentVariable("TPRCS_LOAD_HOLD_IDLE") is { } hold)
        {
            Console.WriteLine($"  holding the live clients for {hold} s before the kill: load tool pid {Environment.ProcessId}");
            await Task.Delay(TimeSpan.FromSeconds(int.Parse(hold, System.Globalization.CultureInfo.InvariantCulture)));
        }

        using var http = new HttpClient { BaseAddress = cluster.Gateways[1].Url, Timeout = TimeSpan.FromSeconds(30) };
        using var ingest = new IngestDriver(plan, cluster.Gateways[1].Url, token);

        // Kill gateway 1 while the count moves on: the clients must catch up with what they missed.
        while (attempts.TryDequeue(out _))
        {
        }

        // Count only what happens after the kill.
        Interlocked.Exchange(ref refused, 0);
        Interlocked.Exchange(ref otherFailures, 0);
        failureKinds.Clear();
        var killedAt = clock.ElapsedTicks;
        Volatile.Write(ref killedAtTicks, killedAt);
        cluster.Gateways[0].Process.KillHard();
        using var sampling = new CancellationTokenSource();
        var samples = SampleCpuAsync(cluster, clock, killedAt, sampling.Token);
        Console.WriteLine("  gateway 1 SIGKILLed; submitting sheets through gateway 2 meanwhile");
        await ingest.SubmitAsync(Math.Max(40, plan.Children.Length * 2));
        var targets = (await IngestDriver.StableTargetsAsync(http, plan)).Select(t => t.Version).ToArray();
        Console.WriteLine($"  target versions: {plan.RootFeed} v{targets[0]} (the areas' own documents via {cluster.Gateways[1].Url})");

        bool Resynced(Watched w, int i) =>
            w.Client.Status.State == ConnectionState.Live
            && w.Stores[0].Current is { Status: FeedStatus.Live } root && root.Version == targets[0]
            && w.Stores[1].Current is { Status: FeedStatus.Live } child && child.Version == targets[1 + (i % plan.Children.Length)];
        var stormDeadline = clock.ElapsedTicks + (Stopwatch.Frequency * 120);
        int done;
        while ((done = watched.Where(Resynced).Count()) < liveBefore && clock.ElapsedTicks < stormDeadline)
        {
            Console.Write($"\r  resynced {done,6:N0} / {liveBefore:N0}   {(clock.ElapsedTicks - killedAt) / (double)Stopwatch.Frequency,5:N1} s after the kill   attempts {attempts.Count,6:N0}   ");
            await Task.Delay(100);
        }

        await sampling.CancelAsync();
        var cpu = await samples;
        var load = Fanout.LoadAverage();
        var times = watched.Where(Resynced).Select(w => (w.LastChange.Max() - killedAt) / (double)Stopwatch.Frequency).Order().ToList();
        var buckets = new Dictionary<long, int>();
        foreach (var t in attempts)
        {
            var b = (t - killedAt) * 10 / Stopwatch.Frequency;
            buckets[b] = buckets.GetValueOrDefault(b) + 1;
        }

        var peak = buckets.Count == 0 ? default : buckets.MaxBy(kv => kv.Value);
        var reconnected = watched.Where(w => w.ReconnectedAt > 0).Select(w => (w.ReconnectedAt - killedAt) / (double)Stopwatch.Frequency).Order().ToList();
        Console.WriteLine();
        if (reconnected.Count > 0)
        {
            Console.WriteLine($"  live again on another node : p50 {reconnected[reconnected.Count / 2]:N1} s, p99 {reconnected[(int)(reconnected.Count * 0.99)]:N1} s, last {reconnected[^1]:N1} s ({reconnected.Count:N0} clients)");
        }

        PrintTimeline(watched.Where(w => w.LostAt > 0).Select(w => (w.LostAt - killedAt) / (double)Stopwatch.Frequency).ToList(),
            attempts.Select(t => (t - killedAt) / (double)Stopwatch.Frequency).ToList(), reconnected,
            watched.Where(Resynced).Select(w => (w.LastChange.Max() - killedAt) / (double)Stopwatch.Frequency).ToList(), cpu);
        foreach (var (kind, count) in failureKinds.OrderByDescending(kv => kv.Value).Take(4))
        {
            Console.WriteLine($"  failed connects: {count,6:N0} × {kind}");
        }

        var result = new StormResult(mode, n, liveBefore, times.Count,
            times.Count == 0 ? double.NaN : times[^1],
            times.Count == 0 ? double.NaN : times[times.Count / 2],
            times.Count == 0 ? double.NaN : times[Math.Min(times.Count - 1, (int)(times.Count * 0.99))],
            peak.Value, peak.Key / 10.0, attempts.Count, refused, otherFailures, load)
        {
            OnKilledNode = onFirst,
            AlignedPeakPer100Ms = StormResult.AlignedPeak(watched.Select(w => (w.LostAt, w.FirstAttemptAt))),
        };

        // Stop the servers first, then the clients (their closes are then immediate).
        await cluster.DisposeAsync();
        await Parallel.ForEachAsync(watched, new ParallelOptions { MaxDegreeOfParallelism = 512 }, async (w, _) => await w.Client.DisposeAsync());
        return result;
    }

    /// <summary>
    /// 2 silos (or 1) and 3 gateway nodes. Gateway 1 admits quickly so that the setup does not take
    /// minutes; gateways 2 and 3 keep the defaults (1,000 upgrades/s, 2,000 subscriptions/s), which
    /// is what the storm meets. Without jitter, gateway 1 announces a first-retry window of 0 (the
    /// SDK has no switch to ignore the server's window).
    /// </summary>
    internal static Task<Cluster> StartClusterAsync(ElectionPlan plan, string mode, bool jitter, int silos, string token)
    {
        Console.WriteLine($"Storm, {mode}: starting {silos} silo(s) and 3 gateway nodes...");
        string[] first = ["--Tprcs:Feeds:Gateway:AdmissionPerSecond=5000", "--Tprcs:Feeds:Gateway:AdmissionBurst=5000", "--Tprcs:Feeds:Gateway:SubscriptionsPerSecond=20000"];
        if (!jitter)
        {
            first = [.. first, "--Tprcs:Feeds:Gateway:MaxRetryWindow=00:00:00"];
        }

        return Cluster.StartAsync(plan.Sample, silos, [first, [], []], token);
    }

    /// <summary>One second of the storm: each process's CPU (cores) over that second.</summary>
    internal sealed record CpuSample(double At, string[] Names, double[] Cores);

    /// <summary>Every second after the kill, the CPU each process used in that second (the load tool's clients, gateways 2 and 3, the silos).</summary>
    internal static async Task<List<CpuSample>> SampleCpuAsync(Cluster cluster, Stopwatch clock, long killedAt, CancellationToken stop)
    {
        var self = Process.GetCurrentProcess();
        var names = new List<string> { "clients" };
        var readers = new List<Func<TimeSpan>> { () => { self.Refresh(); return self.TotalProcessorTime; } };
        foreach (var (g, i) in cluster.Gateways.Skip(1).Select((g, i) => (g, i)))
        {
            names.Add($"gw{i + 2}");
            readers.Add(() => g.Process.CpuTime);
        }

        foreach (var (s, i) in cluster.Silos.Select((s, i) => (s, i)))
        {
            names.Add($"silo{i + 1}");
            readers.Add(() => s.CpuTime);
        }

        var samples = new List<CpuSample>();
        var last = readers.Select(r => r()).ToArray();
        var lastAt = clock.ElapsedTicks;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var now = clock.ElapsedTicks;
                var current = readers.Select(r => r()).ToArray();
                var seconds = (now - lastAt) / (double)Stopwatch.Frequency;
                samples.Add(new CpuSample((now - killedAt) / (double)Stopwatch.Frequency, [.. names],
                    current.Select((c, i) => (c - last[i]).TotalSeconds / seconds).ToArray()));
                (last, lastAt) = (current, now);
            }
        }
        catch (OperationCanceledException)
        {
        }

        return samples;
    }

    /// <summary>Per second after the kill: connect attempts, clients live again, clients resynced (by their last change), and each process's CPU.</summary>
    internal static void PrintTimeline(List<double> lost, List<double> attempts, List<double> live, List<double> resynced, List<CpuSample> cpu)
    {
        if (cpu.Count == 0)
        {
            return;
        }

        // The first two seconds in steps of 100 ms: how tight the herd is.
        Console.WriteLine($"  first 2 s by 100 ms, noticed: {string.Join(" ", Enumerable.Range(0, 20).Select(b => lost.Count(t => t >= b / 10.0 && t < (b + 1) / 10.0)))}");
        Console.WriteLine($"  first 2 s by 100 ms, attempts: {string.Join(" ", Enumerable.Range(0, 20).Select(b => attempts.Count(t => t >= b / 10.0 && t < (b + 1) / 10.0)))}");
        Console.WriteLine($"  {"second",6} {"noticed",8} {"attempts",9} {"live",7} {"resynced",9}   CPU (cores): {string.Join(" ", cpu[0].Names.Select(n => $"{n,7}"))}");
        var end = Math.Max(cpu.Count, (int)Math.Ceiling(resynced.DefaultIfEmpty(0).Max()));
        for (var s = 0; s < end; s++)
        {
            bool In(double t) => t >= s && t < s + 1;
            var sample = cpu.FirstOrDefault(c => c.At > s + 0.5 && c.At <= s + 1.5);
            var cores = sample is null ? "" : string.Join(" ", sample.Cores.Select(c => $"{c,7:N2}"));
            Console.WriteLine($"  {s,4}-{s + 1,-2} {lost.Count(In),8:N0} {attempts.Count(In),8:N0} {live.Count(In),7:N0} {resynced.Count(In),9:N0}   {"",12} {cores}");
        }
    }

    private sealed class StatusObserver(Action<ConnectionStatus> onNext) : IObserver<ConnectionStatus>
    {
        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void OnNext(ConnectionStatus value) => onNext(value);
    }

    public static void Print(IReadOnlyList<StormResult> results)
    {
        Console.WriteLine();
        Console.WriteLine("| mode | clients | live before (on gateway 1) | resynced | all resynced after | p50 / p99 | peak attempts per 100 ms (at) | peak per 100 ms, from each client's notice | attempts | 503 | other failed | load avg |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            Console.WriteLine($"| {r.Mode} | {r.Clients:N0} | {r.LiveBefore:N0} ({r.OnKilledNode:N0}) | {r.Resynced:N0} | {r.AllResyncedSeconds:N1} s | {r.P50Seconds:N1} / {r.P99Seconds:N1} s | {r.PeakAttemptsPer100Ms:N0} (+{r.PeakAtSeconds:N1} s) | {r.AlignedPeakPer100Ms:N0} | {r.Attempts:N0} | {r.Refused503:N0} | {r.OtherFailures:N0} | {r.LoadAverage} |");
        }
    }
}
