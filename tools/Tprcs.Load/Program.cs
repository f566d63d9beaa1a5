using System.Globalization;
using Tprcs.Load;

// Load tool of the live feeds (docs/benchmarks.md, "Live feeds (issue 3)"). It prints its figures.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var command = args.FirstOrDefault();
var a = new Args(args.Skip(1).ToArray());
ChildProcess.Verbose = a.Flag("--verbose");
Console.CancelKeyPress += (_, _) => ChildProcess.KillAll();
AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();
try
{
    return command switch
    {
        "fanout" => await FanoutCommand(a),
        "compare" => await CompareCommand(a),
        "storm" => await StormCommand(a),
        "signalr-hub" => await SignalRHubServer.RunAsync(args.Skip(1).ToArray()),
        _ => Usage(),
    };
}
finally
{
    ChildProcess.KillAll();
}

static async Task<int> FanoutCommand(Args a)
{
    var plan = ElectionPlan.Create(a.Get("--election", "ng-2027-pres"));
    var n = a.Int("--clients", 1_000);
    var rate = a.Double("--rate", 100);
    var duration = TimeSpan.FromSeconds(a.Int("--duration", 30));
    var warmup = TimeSpan.FromSeconds(a.Int("--warmup", 10));
    var token = a.Get("--token", "dev-agent-token");
    var gateways = a.List("--gateways").Select(u => new Uri(u)).ToArray();
    Console.WriteLine($"Fan-out: {n:N0} clients on {plan.RootFeed} + one of {plan.Children.Length} child feeds, {rate} sheets/s for {duration.TotalSeconds:N0} s.");
    FanoutResult result;
    if (gateways.Length > 0)
    {
        var measured = a.Get("--gateway-pid") is { } pid ? ChildProcess.Attach(int.Parse(pid, CultureInfo.InvariantCulture)) : null;
        var ingest = a.Get("--ingest") is { } i ? new Uri(i) : gateways[0];
        result = await Fanout.RunTprcsAsync(plan, gateways, measured, ingest, token, n, rate, duration, warmup, new UpdateTracker());
    }
    else
    {
        await using var cluster = await StartFanoutCluster(plan, token);
        result = await Fanout.RunTprcsAsync(plan, [cluster.Gateways[0].Url], cluster.Gateways[0].Process, cluster.Gateways[1].Url, token, n, rate, duration, warmup, new UpdateTracker());
    }

    Fanout.Print([result]);
    return result.Gaps == 0 ? 0 : 1;
}

static Task<Cluster> StartFanoutCluster(ElectionPlan plan, string token)
{
    Console.WriteLine("  starting 1 silo, the measured gateway node (WebSockets only) and an ingest gateway node (HTTP submissions)...");
    // The measured node admits the whole crowd at once; the protocol's admission limits are for storms (see storm).
    return Cluster.StartAsync(plan.Sample, 1,
    [
        ["--Tprcs:Feeds:Gateway:AdmissionPerSecond=100000", "--Tprcs:Feeds:Gateway:AdmissionBurst=100000", "--Tprcs:Feeds:Gateway:SubscriptionsPerSecond=100000"],
        [],
    ], token);
}

static async Task<int> CompareCommand(Args a)
{
    var plan = ElectionPlan.Create(a.Get("--election", "ng-2027-pres"));
    var counts = a.Ints("--clients", [1_000, 10_000]);
    var rate = a.Double("--rate", 100);
    var duration = TimeSpan.FromSeconds(a.Int("--duration", 30));
    var warmup = TimeSpan.FromSeconds(a.Int("--warmup", 10));
    var token = a.Get("--token", "dev-agent-token");
    var dotnetClients = a.Get("--signalr-clients", "lean") == "dotnet";
    var results = new List<FanoutResult>();
    foreach (var n in counts)
    {
        Console.WriteLine($"== {n:N0} clients: TPRCS gateway node, then a SignalR hub with the same updates ==");
        var tracker = new UpdateTracker { Record = true };
        await using (var cluster = await StartFanoutCluster(plan, token))
        {
            results.Add(await Fanout.RunTprcsAsync(plan, [cluster.Gateways[0].Url], cluster.Gateways[0].Process, cluster.Gateways[1].Url, token, n, rate, duration, warmup, tracker));
        }

        results.Add(await Fanout.RunSignalRAsync(plan, tracker.Recording, n, duration, dotnetClients));
        Fanout.Print(results);
    }

    Fanout.Print(results);
    return 0;
}

static async Task<int> StormCommand(Args a)
{
    var plan = ElectionPlan.Create(a.Get("--election", "ng-2027-pres"));
    var n = a.Int("--clients", 10_000);
    var silos = a.Int("--silos", 2);
    var token = a.Get("--token", "dev-agent-token");
    var modes = a.Get("--jitter", "both") switch
    {
        "on" => new[] { true },
        "off" => [false],
        _ => [true, false],
    };
    var kinds = a.Get("--client", "sdk") switch
    {
        "lean" => new[] { "lean" },
        "both" => ["sdk", "lean"],
        _ => ["sdk"],
    };
    var results = new List<StormResult>();
    foreach (var kind in kinds)
    {
        foreach (var jitter in modes)
        {
            results.Add(kind == "lean" ? await LeanStorm.RunAsync(plan, n, jitter, silos, token) : await Storm.RunAsync(plan, n, jitter, silos, token));
            Storm.Print(results);
        }
    }

    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet tools/Tprcs.Load/bin/Release/net10.0/Tprcs.Load.dll COMMAND [options]   (build with dotnet build -c Release first)
          fanout  --clients N [--gateways URL[,URL...]] [--rate R] [--duration S] [--warmup S] [--election ng-2027-pres|edo-2024-gov]
                  [--token T] [--ingest URL] [--gateway-pid PID]
                  N raw WebSocket clients (root feed + one child feed each); sheets at R/s through the HTTP API; latency
                  update→last client, deliveries/s, gaps, after a warm-up at the same rate (10 s by default). Without --gateways it starts 1 silo, a measured gateway node and
                  an ingest gateway node itself (and then also reports memory per connection and CPU per 1,000 deliveries).
          compare [--clients 1000,10000] [--rate R] [--duration S] [--warmup S] [--election ...] [--signalr-clients lean|dotnet]
                  fanout on a fresh cluster, then a SignalR hub process replaying the same updates (warm-up included) to as many
                  clients: lean ones speaking the hub protocol (as the TPRCS run's are lean), or SignalR's own .NET client.
          storm   [--clients N] [--silos 1|2] [--jitter both|on|off] [--client sdk|lean|both] [--election ...]
                  N clients on gateway 1 of 3; SIGKILL gateway 1; time until all are resynced; reconnect attempts per 100 ms.
                  sdk: TprcsClient instances (the SDK end to end); lean: epoll clients running the SDK's Backoff, whose
                  herd is not spread by their own CPU.
          --verbose  show the child processes' output
        environment: TPRCS_LOAD_GATEWAY_ENV="NAME=value;..." runtime settings of the measured servers (default DOTNET_gcServer=0);
                     TPRCS_LOAD_HOLD_IDLE=S  fanout holds the idle clients S seconds after measuring memory, storm before the kill (for dotnet-gcdump)
                     TPRCS_LOAD_CLIENT_THREADS=N  fanout: epoll threads of the lean clients (2)
                     TPRCS_LOAD_TIMELINE=1  fanout: latency per second of the run
        """);
    return 2;
}
