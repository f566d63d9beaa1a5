using System.Diagnostics;
using System.Globalization;

namespace Tprcs.Load;

/// <summary>What one fan-out run measured on one server process.</summary>
public sealed record FanoutResult(
    string Server,
    int Clients,
    int Connected,
    double PerConnectionKiB,
    long RssBeforeMiB,
    long RssIdleMiB,
    double Seconds,
    long Deliveries,
    LatencySummary Latency,
    double CpuMsPer1000,
    double CpuSeconds,
    long Gaps,
    long Duplicates,
    long Errors,
    string LoadAverage)
{
    /// <summary>CPU time of this program (the clients) over the same window.</summary>
    public double ClientCpuSeconds { get; init; }

    /// <summary>
    /// Memory per idle connection of the clients connected after the first tenth: what one more
    /// connection costs once every feed exists on the server and its code has run (what
    /// <see cref="PerConnectionKiB"/> also counts, spread over all connections).
    /// </summary>
    public double MarginalKiB { get; init; }

    public double DeliveriesPerSecond => Deliveries / Seconds;
}

public static class Fanout
{
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    /// <summary>
    /// N raw protocol clients on the gateway URLs (client i: the root feed and child feed i), memory
    /// per idle connection, then sheets at <paramref name="rate"/>/s through <paramref name="ingest"/>
    /// for <paramref name="duration"/>: latency from each update's publication to its last receiver,
    /// deliveries per second, server CPU per 1,000 deliveries, gaps.
    /// </summary>
    public static async Task<FanoutResult> RunTprcsAsync(
        ElectionPlan plan, Uri[] gateways, ChildProcess? measured, Uri ingest, string token, int n, double rate, TimeSpan duration,
        TimeSpan warmup, UpdateTracker tracker)
    {
        var ws = gateways.Select(g => new UriBuilder(g) { Scheme = "ws", Path = "/ws" }.Uri).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var rssBefore = measured?.RssBytes ?? 0;
        var loops = ClientLoops();
        var watchers = new int[64 + plan.Children.Length];
        var clock = Stopwatch.StartNew();
        var (live, firstWave, rssFirstWave) = await TwoWavesAsync(n, (first, count) => ConnectLeanAsync($"TPRCS {n:N0}", first, count,
            i => ws[i % ws.Length], i => [plan.RootFeed, plan.ChildFeed(i)], RawDialect.Tprcs, tracker, watchers, loops, clock), () => measured?.RssBytes ?? 0);
        Console.WriteLine($"\r  TPRCS {n:N0}: {live.Length:N0} connected, {live.Count(c => c.Ready):N0} with both snapshots after {clock.Elapsed.TotalSeconds:N0} s                 ");
        await Task.Delay(TimeSpan.FromSeconds(5));
        var rssIdle = measured?.RssBytes ?? 0;
        if (Environment.GetEnvironmentVariable("TPRCS_LOAD_HOLD_IDLE") is { } hold && measured is not null)
        {
            Console.WriteLine($"  holding idle for {hold} s: gateway pid {measured.Pid}, RSS {rssIdle >> 20} MiB, before connecting {rssBefore >> 20} MiB");
            await Task.Delay(TimeSpan.FromSeconds(int.Parse(hold, CultureInfo.InvariantCulture)));
        }


        using var driver = new IngestDriver(plan, ingest, token);
        if (warmup > TimeSpan.Zero)
        {
            // The first seconds of load are the JIT's and the caches' (tiered compilation, new grain
            // activations): submitted at the same rate, not measured.
            Console.WriteLine($"  warming up: {rate} sheets/s for {warmup.TotalSeconds:N0} s (not measured)");
            tracker.StartWarmup();
            await driver.RunAsync(rate, warmup, CancellationToken.None);
        }

        var cpu0 = measured?.CpuTime ?? TimeSpan.Zero;
        var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        tracker.StartMeasuring();
        var run = Stopwatch.StartNew();
        using (new Timer(_ => Console.Write(
            $"\r  TPRCS {n:N0}: {run.Elapsed.TotalSeconds,4:N0} s  sheets {driver.Stored,6:N0}  deliveries {tracker.Deliveries / Math.Max(1, run.Elapsed.TotalSeconds),9:N0}/s  gaps {live.Sum(c => c.Gaps)}   "),
            null, 1000, 1000))
        {
            await driver.RunAsync(rate, duration, CancellationToken.None);
            tracker.StopMeasuring();
            await Task.Delay(TimeSpan.FromSeconds(2));
        }

        var seconds = tracker.WindowSeconds;
        var cpu = (measured?.CpuTime ?? TimeSpan.Zero) - cpu0;
        var load = LoadAverage();
        Console.WriteLine($"\r  TPRCS {n:N0}: {driver.Stored:N0} sheets stored ({driver.Failed} refused) in {run.Elapsed.TotalSeconds:N0} s                                  ");
        var latency = tracker.Summarize(f => watchers[f]);
        var root = tracker.FeedIndex(plan.RootFeed);
        var rootLatency = tracker.Summarize(f => watchers[f], f => f == root);
        var childLatency = tracker.Summarize(f => watchers[f], f => f != root);
        Console.WriteLine($"  {plan.RootFeed} ({watchers[root]:N0} watchers): p50 {rootLatency.P50Ms:N0} / p99 {rootLatency.P99Ms:N0} / max {rootLatency.MaxMs:N0} ms over {rootLatency.Updates:N0} updates; "
            + $"child feeds: p50 {childLatency.P50Ms:N0} / p99 {childLatency.P99Ms:N0} / max {childLatency.MaxMs:N0} ms over {childLatency.Updates:N0}");
        if (Environment.GetEnvironmentVariable("TPRCS_LOAD_TIMELINE") is "1")
        {
            foreach (var line in tracker.Timeline())
            {
                Console.WriteLine(line);
            }
        }

        var result = new FanoutResult("TPRCS gateway", n, live.Length, (rssIdle - rssBefore) / 1024.0 / Math.Max(1, live.Length),
            rssBefore >> 20, rssIdle >> 20, seconds, tracker.Deliveries, latency,
            tracker.Deliveries == 0 ? double.NaN : cpu.TotalMilliseconds / tracker.Deliveries * 1000, cpu.TotalSeconds,
            live.Sum(c => (long)c.Gaps), live.Sum(c => (long)c.Duplicates), live.Sum(c => (long)c.Errors), load)
        {
            ClientCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu0).TotalSeconds,
            MarginalKiB = (rssIdle - rssFirstWave) / 1024.0 / Math.Max(1, live.Length - firstWave),
        };
        Close(loops, live);
        return result;
    }

    /// <summary>The lean clients' receiving threads (epoll; TPRCS_LOAD_CLIENT_THREADS, 2 by default).</summary>
    private static EpollLoop[] ClientLoops() =>
        Enumerable.Range(0, int.TryParse(Environment.GetEnvironmentVariable("TPRCS_LOAD_CLIENT_THREADS"), out var t) && t > 0 ? t : 2)
            .Select(i => new EpollLoop($"clients-{i}")).ToArray();

    /// <summary>
    /// Connects clients 0 to N − 1 in two waves, the first tenth and then the rest, and reads the
    /// server's memory once the first wave has settled: the second wave's growth is the marginal
    /// cost of a connection (every feed already exists, every code path has run).
    /// </summary>
    private static async Task<(T[] Clients, int FirstWave, long RssAfterFirstWave)> TwoWavesAsync<T>(
        int n, Func<int, int, Task<T[]>> connect, Func<long> rss)
    {
        var first = Math.Max(1, n / 10);
        var wave1 = await connect(0, first);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var mid = rss();
        T[] wave2 = n > first ? await connect(first, n - first) : [];
        return ([.. wave1, .. wave2], wave1.Length, mid);
    }

    /// <summary>
    /// Lean clients <paramref name="first"/> to first + count − 1 (client i on <paramref name="url"/>(i),
    /// watching <paramref name="feeds"/>(i)), connected synchronously a few dozen at a time (they never
    /// touch .NET's socket engine), then until each has its starting state (TPRCS: both snapshots;
    /// SignalR: the handshake's answer).
    /// </summary>
    private static async Task<RawClient[]> ConnectLeanAsync(
        string label, int first, int count, Func<int, Uri> url, Func<int, string[]> feeds, RawDialect dialect, UpdateTracker tracker,
        int[] watchers, EpollLoop[] loops, Stopwatch clock)
    {
        var clients = new RawClient?[count];
        var connected = 0;
        using (new Timer(_ => Console.Write(
            $"\r  {label}: connected {first + Volatile.Read(ref connected),6:N0}  ready {first + clients.Count(c => c?.Ready == true),6:N0}  {clock.Elapsed.TotalSeconds,5:N0} s   "),
            null, 1000, 1000))
        {
            await Task.Run(() => Parallel.For(first, first + count, new ParallelOptions { MaxDegreeOfParallelism = 32 }, i =>
            {
                var watched = feeds(i);
                for (var attempt = 0; attempt < 30; attempt++)
                {
                    var client = new RawClient(tracker, watched, dialect);
                    try
                    {
                        client.Start(url(i), loops[i % loops.Length]);
                        clients[i - first] = client;
                        foreach (var f in watched)
                        {
                            Interlocked.Increment(ref watchers[tracker.FeedIndex(f)]);
                        }

                        Interlocked.Increment(ref connected);
                        return;
                    }
                    catch (RawClient.RetryException retry)
                    {
                        // Clients refused together wait a random time in [hint, 2 × hint], as the SDK does.
                        Thread.Sleep(retry.Hint * (1 + Random.Shared.NextDouble()));
                    }
                    catch (Exception ex) when (ex is HttpRequestException or System.Net.Sockets.SocketException)
                    {
                        Thread.Sleep(500 + Random.Shared.Next(1000));
                    }
                }
            }));
            var readyBy = DateTime.UtcNow.AddSeconds(120);
            while (clients.Any(c => c is not null && !c.Ready && !c.Closed) && DateTime.UtcNow < readyBy)
            {
                await Task.Delay(500);
            }
        }

        return clients.Where(c => c is not null).Select(c => c!).ToArray();
    }

    private static void Close(EpollLoop[] loops, RawClient[] clients)
    {
        // The loops stop first: a closed socket's descriptor number must not reach a loop that still reads it.
        foreach (var loop in loops)
        {
            loop.Dispose();
        }

        foreach (var c in clients)
        {
            c.Abort();
        }
    }

    /// <summary>
    /// The same updates (recorded in the TPRCS run) replayed by a SignalR hub process to N clients:
    /// lean clients speaking the hub protocol (as the TPRCS run's clients are lean), or with
    /// <paramref name="dotnetClients"/> SignalR's own .NET client.
    /// </summary>
    public static async Task<FanoutResult> RunSignalRAsync(
        ElectionPlan plan, IReadOnlyCollection<RecordedUpdate> recording, int n, TimeSpan duration, bool dotnetClients)
    {
        var file = SignalRHubServer.WriteRecording(recording);
        var port = ChildProcess.FreePort();
        var url = new Uri($"http://127.0.0.1:{port}");
        // The same runtime settings as the measured gateway node.
        await using var hub = ChildProcess.Start("signalr-hub",
            [typeof(Fanout).Assembly.Location, "signalr-hub", "--urls", url.ToString().TrimEnd('/'), "--recording", file],
            Cluster.GatewayEnvironment());
        try
        {
            await hub.WaitReadyAsync(new Uri(url, "/ready"), TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(3));
            var rssBefore = hub.RssBytes;
            // The replay warms up as the TPRCS run did (its warm-up updates first); only the updates measured there count here.
            var tracker = new UpdateTracker { MeasureOnly = recording.Where(r => !r.Warmup).Select(r => (r.Feed, r.Seq)).ToHashSet() };
            var watchers = new int[64 + plan.Children.Length];
            var clock = Stopwatch.StartNew();
            var hubUrl = (int i) => new Uri($"ws://127.0.0.1:{port}/hub?feeds={Uri.EscapeDataString(plan.RootFeed + "," + plan.ChildFeed(i))}");
            var loops = dotnetClients ? [] : ClientLoops();
            var (lean, leanFirst, leanRss) = dotnetClients ? ([], 0, 0) : await TwoWavesAsync(n, (first, count) => ConnectLeanAsync(
                $"SignalR {n:N0}", first, count, hubUrl, i => [plan.RootFeed, plan.ChildFeed(i)], RawDialect.SignalR, tracker, watchers, loops, clock),
                () => hub.RssBytes);
            var (official, officialFirst, officialRss) = dotnetClients
                ? await TwoWavesAsync(n, (first, count) => ConnectDotnetAsync(plan, url, first, count, tracker, watchers, clock), () => hub.RssBytes)
                : ([], 0, 0);
            var connectedCount = lean.Length + official.Length;
            var (firstWave, rssFirstWave) = dotnetClients ? (officialFirst, officialRss) : (leanFirst, leanRss);
            Console.WriteLine($"\r  SignalR {n:N0}: {connectedCount:N0} connected after {clock.Elapsed.TotalSeconds:N0} s                          ");
            // The hub drops a client it has not heard from for 30 s; SignalR's own clients ping every 15 s,
            // each on its own schedule: here every client every 10 s, a tenth of them each second.
            var tick = 0;
            using var pings = new Timer(_ =>
            {
                var t = tick++ % 10;
                for (var i = t; i < lean.Length; i += 10)
                {
                    lean[i].Ping();
                }
            }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            await Task.Delay(TimeSpan.FromSeconds(5));
            var rssIdle = hub.RssBytes;
            var span = recording.Count == 0 ? 0 : (recording.Max(r => r.UpdatedAtUs) - recording.Min(r => r.UpdatedAtUs)) / 1e6;
            var warmupSpan = recording.Any(r => r.Warmup) && recording.Any(r => !r.Warmup)
                ? (recording.Where(r => !r.Warmup).Min(r => r.UpdatedAtUs) - recording.Min(r => r.UpdatedAtUs)) / 1e6
                : 0;
            using var http = new HttpClient { BaseAddress = url };
            (await http.PostAsync("/replay", null)).EnsureSuccessStatusCode();
            var run = Stopwatch.StartNew();
            if (warmupSpan > 0)
            {
                Console.WriteLine($"  SignalR {n:N0}: replaying the warm-up ({warmupSpan:N0} s, not measured)");
                await Task.Delay(TimeSpan.FromSeconds(warmupSpan));
            }

            var cpu0 = hub.CpuTime;
            var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            tracker.StartMeasuring();
            using (new Timer(_ => Console.Write(
                $"\r  SignalR {n:N0}: {run.Elapsed.TotalSeconds,4:N0} s  deliveries {tracker.Deliveries / Math.Max(1, run.Elapsed.TotalSeconds - warmupSpan),9:N0}/s   "), null, 1000, 1000))
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Max(span - warmupSpan, 1)));
                // A hub that falls behind sends late: the window lasts until it has sent every update.
                for (var i = 0; i < 600 && int.Parse(await http.GetStringAsync("/sent"), CultureInfo.InvariantCulture) < recording.Count; i++)
                {
                    await Task.Delay(100);
                }

                tracker.StopMeasuring();
                await Task.Delay(TimeSpan.FromSeconds(2));
            }

            var cpu = hub.CpuTime - cpu0;
            var load = LoadAverage();
            Console.WriteLine($"\r  SignalR {n:N0}: {await http.GetStringAsync("/sent")} of {recording.Count:N0} updates sent                                       ");
            var latency = tracker.Summarize(f => watchers[f]);
            var result = new FanoutResult(dotnetClients ? "SignalR hub (.NET clients)" : "SignalR hub", n, connectedCount, (rssIdle - rssBefore) / 1024.0 / Math.Max(1, connectedCount),
                rssBefore >> 20, rssIdle >> 20, tracker.WindowSeconds, tracker.Deliveries, latency,
                tracker.Deliveries == 0 ? double.NaN : cpu.TotalMilliseconds / tracker.Deliveries * 1000, cpu.TotalSeconds,
                lean.Sum(c => (long)c.Gaps) + official.Sum(c => (long)c.Gaps), lean.Sum(c => (long)c.Duplicates), lean.Sum(c => (long)c.Errors), load)
            {
                ClientCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu0).TotalSeconds,
                MarginalKiB = (rssIdle - rssFirstWave) / 1024.0 / Math.Max(1, connectedCount - firstWave),
            };
            // Stop the server first, then the clients: their close costs the server nothing any more.
            await hub.DisposeAsync();
            Close(loops, lean);
            await Parallel.ForEachAsync(official, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (c, _) => await c.DisposeAsync());
            return result;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Clients <paramref name="first"/> to first + count − 1 of Microsoft.AspNetCore.SignalR.Client (64 connecting at a time).</summary>
    private static async Task<SignalRFeedClient[]> ConnectDotnetAsync(
        ElectionPlan plan, Uri url, int first, int count, UpdateTracker tracker, int[] watchers, Stopwatch clock)
    {
        var clients = new SignalRFeedClient?[count];
        var connected = 0;
        using (new Timer(_ => Console.Write($"\r  SignalR: connected {first + Volatile.Read(ref connected),6:N0}  {clock.Elapsed.TotalSeconds,5:N0} s   "), null, 1000, 1000))
        {
            await Parallel.ForEachAsync(Enumerable.Range(first, count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
            {
                string[] feeds = [plan.RootFeed, plan.ChildFeed(i)];
                for (var attempt = 0; attempt < 10; attempt++)
                {
                    var client = new SignalRFeedClient(tracker, url, feeds);
                    try
                    {
                        await client.StartAsync(CancellationToken.None);
                        clients[i - first] = client;
                        foreach (var f in feeds)
                        {
                            Interlocked.Increment(ref watchers[tracker.FeedIndex(f)]);
                        }

                        Interlocked.Increment(ref connected);
                        return;
                    }
                    catch (Exception)
                    {
                        await client.DisposeAsync();
                        await Task.Delay(500 + Random.Shared.Next(1000));
                    }
                }
            });
        }

        return clients.Where(c => c is not null).Select(c => c!).ToArray();
    }

    private static string Latency(LatencySummary l) => l.Updates == 0
        ? $"none of {l.Incomplete:N0} updates reached every client"
        : $"{l.P50Ms:N0} / {l.P99Ms:N0} / {l.MaxMs:N0} ms ({l.Updates:N0} updates, {l.Incomplete} incomplete)";

    public static void Print(IReadOnlyList<FanoutResult> results)
    {
        Console.WriteLine();
        Console.WriteLine("| server | clients | connected | deliveries/s | update→last client p50 / p99 / max | server CPU per 1,000 deliveries | clients' CPU | memory per idle connection (all; after the first tenth) | gaps | load avg |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            Console.WriteLine($"| {r.Server} | {r.Clients:N0} | {r.Connected:N0} | {r.DeliveriesPerSecond:N0} | {Latency(r.Latency)} | {r.CpuMsPer1000:N2} ms ({r.CpuSeconds:N2} s CPU) | {r.ClientCpuSeconds / r.Seconds:N2} cores | {r.PerConnectionKiB:N1} KiB ({r.RssBeforeMiB:N0} → {r.RssIdleMiB:N0} MiB); {r.MarginalKiB:N1} KiB | {r.Gaps} | {r.LoadAverage} |");
        }
    }
}
