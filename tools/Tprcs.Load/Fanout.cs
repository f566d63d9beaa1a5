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
        UpdateTracker tracker)
    {
        var ws = gateways.Select(g => new UriBuilder(g) { Scheme = "ws", Path = "/ws" }.Uri).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var rssBefore = measured?.RssBytes ?? 0;
        var clients = new RawClient[n];
        var watchers = new int[64 + plan.Children.Length];
        using var stop = new CancellationTokenSource();
        var connected = 0;
        var clock = Stopwatch.StartNew();
        using (new Timer(_ => Console.Write(
            $"\r  TPRCS {n:N0}: connected {Volatile.Read(ref connected),6:N0}  ready {clients.Count(c => c?.Ready == true),6:N0}  {clock.Elapsed.TotalSeconds,5:N0} s   "),
            null, 1000, 1000))
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
            {
                string[] feeds = [plan.RootFeed, plan.ChildFeed(i)];
                for (var attempt = 0; attempt < 30; attempt++)
                {
                    var client = new RawClient(tracker, feeds);
                    try
                    {
                        await client.StartAsync(ws[i % ws.Length], stop.Token);
                        clients[i] = client;
                        foreach (var f in feeds)
                        {
                            Interlocked.Increment(ref watchers[tracker.FeedIndex(f)]);
                        }

                        Interlocked.Increment(ref connected);
                        return;
                    }
                    catch (RawClient.RetryException)
                    {
                    }
                    catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or HttpRequestException or System.Net.Sockets.SocketException)
                    {
                        await Task.Delay(500 + Random.Shared.Next(1000));
                    }
                }
            });
            var readyBy = DateTime.UtcNow.AddSeconds(120);
            while (clients.Any(c => c is not null && !c.Ready && !c.Closed) && DateTime.UtcNow < readyBy)
            {
                await Task.Delay(500);
            }
        }

        var live = clients.Where(c => c is not null).ToArray();
        Console.WriteLine($"\r  TPRCS {n:N0}: {live.Length:N0} connected, {live.Count(c => c.Ready):N0} with both snapshots after {clock.Elapsed.TotalSeconds:N0} s                 ");
        await Task.Delay(TimeSpan.FromSeconds(5));
        var rssIdle = measured?.RssBytes ?? 0;
        if (Environment.GetEnvironmentVariable("TPRCS_LOAD_HOLD_IDLE") is { } hold && measured is not null)
        {
            Console.WriteLine($"  holding idle for {hold} s: gateway pid {measured.Pid}, RSS {rssIdle >> 20} MiB, before connecting {rssBefore >> 20} MiB");
            await Task.Delay(TimeSpan.FromSeconds(int.Parse(hold, CultureInfo.InvariantCulture)));
        }


        var cpu0 = measured?.CpuTime ?? TimeSpan.Zero;
        var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        tracker.StartMeasuring();
        using var driver = new IngestDriver(plan, ingest, token);
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
        var result = new FanoutResult("TPRCS gateway", n, live.Length, (rssIdle - rssBefore) / 1024.0 / Math.Max(1, live.Length),
            rssBefore >> 20, rssIdle >> 20, seconds, tracker.Deliveries, latency,
            tracker.Deliveries == 0 ? double.NaN : cpu.TotalMilliseconds / tracker.Deliveries * 1000, cpu.TotalSeconds,
            live.Sum(c => (long)c.Gaps), live.Sum(c => (long)c.Duplicates), live.Sum(c => (long)c.Errors), load)
        {
            ClientCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu0).TotalSeconds,
        };
        stop.Cancel();
        return Finish(result, () =>
        {
            foreach (var c in live)
            {
                c.Abort();
            }
        });
    }

    private static FanoutResult Finish(FanoutResult result, Action cleanup)
    {
        cleanup();
        return result;
    }

    /// <summary>The same updates (recorded in the TPRCS run) replayed by a SignalR hub process to N SignalR clients.</summary>
    public static async Task<FanoutResult> RunSignalRAsync(ElectionPlan plan, IReadOnlyCollection<RecordedUpdate> recording, int n, TimeSpan duration)
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
            var tracker = new UpdateTracker();
            var watchers = new int[64 + plan.Children.Length];
            var clients = new SignalRFeedClient?[n];
            var connected = 0;
            var clock = Stopwatch.StartNew();
            using (new Timer(_ => Console.Write($"\r  SignalR {n:N0}: connected {Volatile.Read(ref connected),6:N0}  {clock.Elapsed.TotalSeconds,5:N0} s   "), null, 1000, 1000))
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
                {
                    string[] feeds = [plan.RootFeed, plan.ChildFeed(i)];
                    for (var attempt = 0; attempt < 10; attempt++)
                    {
                        var client = new SignalRFeedClient(tracker, url, feeds);
                        try
                        {
                            await client.StartAsync(CancellationToken.None);
                            clients[i] = client;
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

            var live = clients.Where(c => c is not null).Select(c => c!).ToArray();
            Console.WriteLine($"\r  SignalR {n:N0}: {live.Length:N0} connected after {clock.Elapsed.TotalSeconds:N0} s                          ");
            await Task.Delay(TimeSpan.FromSeconds(5));
            var rssIdle = hub.RssBytes;
            var cpu0 = hub.CpuTime;
            var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            tracker.StartMeasuring();
            using var http = new HttpClient { BaseAddress = url };
            (await http.PostAsync("/replay", null)).EnsureSuccessStatusCode();
            var run = Stopwatch.StartNew();
            using (new Timer(_ => Console.Write(
                $"\r  SignalR {n:N0}: {run.Elapsed.TotalSeconds,4:N0} s  deliveries {tracker.Deliveries / Math.Max(1, run.Elapsed.TotalSeconds),9:N0}/s   "), null, 1000, 1000))
            {
                var span = recording.Count == 0 ? 0 : (recording.Max(r => r.UpdatedAtUs) - recording.Min(r => r.UpdatedAtUs)) / 1e6;
                await Task.Delay(TimeSpan.FromSeconds(Math.Max(span, 1)));
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
            var result = new FanoutResult("SignalR hub", n, live.Length, (rssIdle - rssBefore) / 1024.0 / Math.Max(1, live.Length),
                rssBefore >> 20, rssIdle >> 20, tracker.WindowSeconds, tracker.Deliveries, latency,
                tracker.Deliveries == 0 ? double.NaN : cpu.TotalMilliseconds / tracker.Deliveries * 1000, cpu.TotalSeconds,
                live.Sum(c => (long)c.Gaps), 0, 0, load)
            {
                ClientCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu0).TotalSeconds,
            };
            // Stop the server first, then the clients: their close costs the server nothing any more.
            await hub.DisposeAsync();
            await Parallel.ForEachAsync(live, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (c, _) => await c.DisposeAsync());
            return result;
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static void Print(IReadOnlyList<FanoutResult> results)
    {
        Console.WriteLine();
        Console.WriteLine("| server | clients | connected | deliveries/s | update→last client p50 / p99 / max | server CPU per 1,000 deliveries | clients' CPU | memory per idle connection | gaps | load avg |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            Console.WriteLine($"| {r.Server} | {r.Clients:N0} | {r.Connected:N0} | {r.DeliveriesPerSecond:N0} | {r.Latency.P50Ms:N0} / {r.Latency.P99Ms:N0} / {r.Latency.MaxMs:N0} ms ({r.Latency.Updates:N0} updates, {r.Latency.Incomplete} incomplete) | {r.CpuMsPer1000:N2} ms ({r.CpuSeconds:N2} s CPU) | {r.ClientCpuSeconds / r.Seconds:N2} cores | {r.PerConnectionKiB:N1} KiB ({r.RssBeforeMiB:N0} → {r.RssIdleMiB:N0} MiB) | {r.Gaps} | {r.LoadAverage} |");
        }
    }
}
