using System.Net.Http.Json;
using System.Text.Json;
using Tprcs.Client.Tests.Support;
using Tprcs.Tests.Support;
using Xunit.Abstractions;

namespace Tprcs.Client.Tests;

/// <summary>The SDK against the real gateway (embedded silo, SQLite log) on real Kestrel.</summary>
public class EndToEndTests(ITestOutputHelper output)
{
    private const string Ward = "ED/01/01";
    private const string WardFeed = $"{TestGateway.Election}/{Ward}";
    private const string RootFeed = $"{TestGateway.Election}/ED";
    private const string Submissions = $"/api/v1/elections/{TestGateway.Election}/submissions";
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    private TprcsClientOptions Options(params Uri[] gateways) => new()
    {
        Gateways = gateways,
        MaxDelay = TimeSpan.FromSeconds(2),
        Log = line =>
        {
            try
            {
                output.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {line}");
            }
            catch (InvalidOperationException)
            {
                // The test is over.
            }
        },
    };

    private static async Task<FeedDocument> AreaAsync(TestGateway gateway, string area)
    {
        var json = await gateway.Http.GetStringAsync($"/api/v1/elections/{TestGateway.Election}/areas/{area}");
        return JsonSerializer.Deserialize(json, TprcsJsonContext.Default.FeedDocument)!;
    }

    /// <summary>Units of the ward with at least 300 registered voters.</summary>
    private static async Task<string[]> UnitsAsync(TestGateway gateway, int count)
    {
        var ward = await AreaAsync(gateway, Ward);
        var units = ward.Rows.Where(r => r.Tally.RegisteredVoters >= 300).Select(r => r.Code).Take(count).ToArray();
        Assert.True(units.Length == count, $"ward {Ward} has only {units.Length} units with ≥ 300 voters");
        return units;
    }

    /// <summary>Submits a sheet that counts as it is: 200 accredited, 5 rejected, so apc + pdp must stay ≤ 195.</summary>
    private static async Task SubmitAsync(TestGateway gateway, string id, string unit, int apc, int pdp)
    {
        Assert.True(apc + pdp <= 195, "the sheet would be over-voted (cast > accredited) and not counted");
        var response = await gateway.Agent_.PostAsJsonAsync(Submissions, new
        {
            submissionId = id,
            pollingUnit = unit,
            accreditedVoters = 200,
            rejected = 5,
            votes = new Dictionary<string, int> { ["APC"] = apc, ["PDP"] = pdp },
            totalValid = apc + pdp,
            totalCast = apc + pdp + 5,
        });
        Assert.True(response.IsSuccessStatusCode, $"submission {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static bool Counts(FeedState s, int units, long apc, long pdp) =>
        s is { Status: FeedStatus.Live, Totals: { } t }
        && t.Units.Counted == units && s.VotesOf("APC") == apc && s.VotesOf("PDP") == pdp
        && t.TotalValid == apc + pdp && t.TotalCast == apc + pdp + (5 * units) && t.Rejected == 5 * units && t.AccreditedVoters == 200 * units;

    private static string Canonical(Tally tally) => JsonSerializer.Serialize(tally);

    /// <summary>Records every published state and checks, as they come, that none goes back within an epoch.</summary>
    private sealed class History : IDisposable
    {
        private readonly object _gate = new();
        private readonly List<FeedState> _states = [];
        private readonly IDisposable _subscription;
        private readonly List<string> _violations = [];

        public History(FeedStore store) => _subscription = store.Subscribe(Add);

        public IReadOnlyList<FeedState> States
        {
            get
            {
                lock (_gate)
                {
                    return [.. _states];
                }
            }
        }

        public IReadOnlyList<string> Violations
        {
            get
            {
                lock (_gate)
                {
                    return [.. _violations];
                }
            }
        }

        private void Add(FeedState state)
        {
            lock (_gate)
            {
                // Highest version published so far in this state's epoch.
                var before = _states.Where(s => s.Epoch is not null && s.Epoch == state.Epoch).Select(s => s.Version).DefaultIfEmpty(long.MinValue).Max();
                if (state.HasDocument && state.Version < before)
                {
                    _violations.Add($"published version {state.Version} after {before} in epoch {state.Epoch}");
                }

                if (state.Totals is { } totals && TallyMath.FindMismatch(totals, state.Rows) is { } mismatch)
                {
                    _violations.Add($"published an inconsistent state: {mismatch}");
                }

                _states.Add(state);
            }
        }

        public void Dispose() => _subscription.Dispose();
    }

    [Fact]
    public async Task The_store_reaches_the_exact_totals_after_submissions()
    {
        await using var gateway = await TestGateway.StartAsync();
        var units = await UnitsAsync(gateway, 3);
        await using var client = new TprcsClient(Options(gateway.WebSocketUri));
        var ward = client.Watch(WardFeed);
        var root = client.Watch(RootFeed);
        Assert.Same(ward, client.Watch(WardFeed));
        using var history = new History(ward);

        await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live, "the connection to be live", Long);
        await Wait.ForAsync(ward, s => Counts(s, 0, 0, 0), "the ward's first snapshot, with nothing counted", Long);
        await Wait.ForAsync(root, s => s.Status == FeedStatus.Live, "the state feed's first snapshot", Long);

        long apc = 0, pdp = 0;
        for (var i = 0; i < units.Length; i++)
        {
            var (a, p) = (100 + (7 * i), 80 - (3 * i));
            await SubmitAsync(gateway, $"sdk-{i}", units[i], a, p);
            (apc, pdp) = (apc + a, pdp + p);
        }

        var state = await Wait.ForAsync(ward, s => Counts(s, units.Length, apc, pdp), $"the ward totals APC {apc}, PDP {pdp} over {units.Length} units", Long);
        foreach (var unit in units)
        {
            Assert.Equal("counted", state.RowsByCode[unit].Status);
        }

        // Exactly the server's document, field by field; and the state feed saw the same sheets.
        Assert.Equal(Canonical((await AreaAsync(gateway, Ward)).Totals), Canonical(state.Totals!));
        var rootState = await Wait.ForAsync(root, s => s.Totals?.Units.Counted == units.Length && s.VotesOf("APC") == apc,
            "the state feed counting the sheets", Long);
        Assert.Equal(Canonical((await AreaAsync(gateway, "ED")).Totals), Canonical(rootState.Totals!));
        Assert.Empty(history.Violations);
        Assert.Equal(0, ward.Gaps + ward.Inconsistencies);
    }

    [Fact]
    public async Task After_the_gateway_restarts_the_client_reconnects_by_itself_and_shows_the_exact_totals_never_going_back()
    {
        var dir = TestGateway.NewDataDirectory();
        var port = TestGateway.FreePort();
        var settings = new Dictionary<string, string> { ["urls"] = $"http://127.0.0.1:{port}" };
        var gateway = await TestGateway.StartAsync(dir, settings);
        try
        {
            var units = await UnitsAsync(gateway, 3);
            await using var client = new TprcsClient(Options(gateway.WebSocketUri));
            var ward = client.Watch(WardFeed);
            using var history = new History(ward);
            var statuses = new List<ConnectionStatus>();
            using var watching = client.Worker.SubscribeStatus(s =>
            {
                lock (statuses)
                {
                    statuses.Add(s);
                }
            });

            await SubmitAsync(gateway, "restart-0", units[0], 120, 60);
            await SubmitAsync(gateway, "restart-1", units[1], 90, 80);
            var before = await Wait.ForAsync(ward, s => Counts(s, 2, 210, 140), "the ward totals of the first two sheets", Long);
            var firstNode = client.Status;
            Assert.Equal(ConnectionState.Live, firstNode.State);

            // The gateway goes away: the store keeps its document, marked stale; the worker retries.
            await gateway.DisposeAsync();
            var stale = await Wait.ForAsync(ward, s => s.Status == FeedStatus.Stale, "the store to be marked stale", Long);
            Assert.Same(before.Document, stale.Document);
            Assert.NotNull(stale.StaleSince);
            await Wait.ForAsync(client.Worker, s => s is { State: ConnectionState.Reconnecting, NextAttemptAt: not null, IsStale: true },
                "the worker to wait for a reconnection attempt", Long);

            // Same port, same data: the client comes back by itself.
            gateway = await TestGateway.StartAsync(dir, settings);
            await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live, "the worker to reconnect by itself", Long);
            var back = await Wait.ForAsync(ward, s => Counts(s, 2, 210, 140), "the exact totals again after the restart", Long);
            Assert.Null(back.StaleSince);
            Assert.Equal(Canonical((await AreaAsync(gateway, Ward)).Totals), Canonical(back.Totals!));

            // And it is live: a new sheet arrives as an update.
            await SubmitAsync(gateway, "restart-2", units[2], 10, 20);
            var after = await Wait.ForAsync(ward, s => Counts(s, 3, 220, 160), "the third sheet after the restart", Long);
            Assert.Equal(Canonical((await AreaAsync(gateway, Ward)).Totals), Canonical(after.Totals!));

            Assert.Empty(history.Violations);
            lock (statuses)
            {
                Assert.Contains(statuses, s => s.State == ConnectionState.Reconnecting && s.NextAttemptAt is not null);
                Assert.Equal(ConnectionState.Live, statuses[^1].State);
            }

            output.WriteLine($"{history.States.Count} states published; epochs {string.Join(", ", history.States.Select(s => s.Epoch).Distinct())}");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_worker_rotates_past_a_gateway_that_does_not_answer()
    {
        await using var gateway = await TestGateway.StartAsync();
        var dead = new Uri($"ws://127.0.0.1:{TestGateway.FreePort()}/ws");
        await using var client = new TprcsClient(Options(dead, gateway.WebSocketUri));
        var root = client.Watch(RootFeed);

        var live = await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live, "a connection through the second gateway", Long);
        Assert.Equal(gateway.WebSocketUri, live.Gateway);
        await Wait.ForAsync(root, s => s.Status == FeedStatus.Live, "the state feed's snapshot", Long);
    }

    [Fact]
    public async Task After_two_nodes_dropped_it_the_worker_goes_to_the_one_that_did_not()
    {
        await using var a = await TestGateway.StartAsync();
        await using var b = await TestGateway.StartAsync();
        await using var c = await TestGateway.StartAsync();
        await using var client = new TprcsClient(Options(a.WebSocketUri, b.WebSocketUri, c.WebSocketUri));
        client.Watch(RootFeed);
        var first = await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live, "a first connection", Long);
        Assert.Equal(a.WebSocketUri, first.Gateway);

        // Dropped without a close frame, as by a node that dies: that URL is skipped for a while.
        client.Worker.AbortConnection();
        var second = await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live && s.Gateway != a.WebSocketUri,
            "a connection to another node after the first drop", Long);
        client.Worker.AbortConnection();
        var third = await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live && s.Gateway != second.Gateway,
            "a connection after the second drop", Long);
        var neverDropped = new[] { b.WebSocketUri, c.WebSocketUri }.Single(u => u != second.Gateway);
        Assert.Equal(neverDropped, third.Gateway);
    }

    [Fact]
    public async Task An_unknown_feed_is_reported_on_its_store_and_the_others_stay_live()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = new TprcsClient(Options(gateway.WebSocketUri));
        var unknown = client.Watch($"{TestGateway.Election}/ZZ/99");
        var root = client.Watch(RootFeed);

        var error = await Wait.ForAsync(unknown, s => s.Status == FeedStatus.Error, "an error on the unknown feed", Long);
        Assert.Equal("unknown-feed", error.Error!.Code);
        await Wait.ForAsync(root, s => s.Status == FeedStatus.Live, "the state feed's snapshot", Long);
    }

    [Fact]
    public async Task A_dropped_connection_resumes_every_feed_from_its_position()
    {
        await using var gateway = await TestGateway.StartAsync();
        var units = await UnitsAsync(gateway, 2);
        await using var client = new TprcsClient(Options(gateway.WebSocketUri));
        var ward = client.Watch(WardFeed);
        using var history = new History(ward);
        await SubmitAsync(gateway, "drop-0", units[0], 50, 40);
        var held = await Wait.ForAsync(ward, s => Counts(s, 1, 50, 40), "the first sheet", Long);

        // A network failure: no close handshake.
        client.Worker.AbortConnection();
        await Wait.ForAsync(ward, s => s.Status == FeedStatus.Stale, "the store to be marked stale", Long);
        await SubmitAsync(gateway, "drop-1", units[1], 30, 20);

        var resumed = await Wait.ForAsync(ward, s => Counts(s, 2, 80, 60), "the missed sheet after the reconnection", Long);
        Assert.Equal(held.Epoch, resumed.Epoch);
        Assert.True(resumed.Seq > held.Seq);
        Assert.Empty(history.Violations);
        Assert.Equal(0, ward.Gaps + ward.Inconsistencies);
    }

    // ---- server hints (served by the gateway's admission control and drain) ----------------------

    [Fact]
    public async Task A_503_with_Retry_After_delays_the_next_attempt_at_least_that_long()
    {
        await using var gateway = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:AdmissionPerSecond"] = "1",
            ["Tprcs:Feeds:Gateway:AdmissionBurst"] = "1",
        });

        // Another observer takes the only upgrade the node admits this second.
        await using var first = await FeedTestClient.ConnectAsync(gateway.WebSocketUri);
        await using var client = new TprcsClient(Options(gateway.WebSocketUri));
        var refused = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watching = client.Worker.SubscribeStatus(s =>
        {
            if (s is { State: ConnectionState.Reconnecting, NextAttemptAt: { } at, LastError: { } error } && error.Contains("HTTP 503"))
            {
                refused.TrySetResult(at - DateTimeOffset.UtcNow);
            }
        });
        var root = client.Watch(RootFeed);

        var wait = await refused.Task.WaitAsync(Long);
        Assert.True(wait >= TimeSpan.FromMilliseconds(900), $"the next attempt was {wait.TotalMilliseconds:F0} ms after a 503 with Retry-After ≥ 1 s");
        await Wait.ForAsync(root, s => s.Status == FeedStatus.Live, "the feed once the node admits the client", Long);
    }

    [Fact]
    public async Task Overloaded_subscriptions_are_retried_after_the_servers_hint()
    {
        await using var gateway = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:SubscriptionsPerSecond"] = "1",
        });
        var overloaded = 0;
        var options = Options(gateway.WebSocketUri);
        var log = options.Log!;
        options.Log = line =>
        {
            if (line.Contains("overloaded", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref overloaded);
            }

            log(line);
        };
        await using var client = new TprcsClient(options);
        var feeds = new[] { RootFeed, $"{TestGateway.Election}/ED/01", $"{TestGateway.Election}/ED/02", WardFeed }.Select(client.Watch).ToList();

        foreach (var store in feeds)
        {
            await Wait.ForAsync(store, s => s.Status == FeedStatus.Live, $"{store.Feed} to be live despite the subscription limit", Long);
        }

        Assert.True(Volatile.Read(ref overloaded) > 0, "the node never answered overloaded: the test did not exercise the hint");
    }

    [Fact]
    public async Task A_drain_moves_the_client_to_another_gateway()
    {
        var drainWindow = new Dictionary<string, string> { ["Tprcs:Feeds:Gateway:DrainWindow"] = "00:00:00.500" };
        var a = await TestGateway.StartAsync(settings: drainWindow);
        await using var b = await TestGateway.StartAsync();
        try
        {
            await using var client = new TprcsClient(Options(a.WebSocketUri, b.WebSocketUri));
            var root = client.Watch(RootFeed);
            var onA = await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live, "a connection to the first gateway", Long);
            Assert.Equal(a.WebSocketUri, onA.Gateway);
            await Wait.ForAsync(root, s => s.Status == FeedStatus.Live, "the feed on the first gateway", Long);

            await a.DisposeAsync();
            var onB = await Wait.ForAsync(client.Worker, s => s.State == ConnectionState.Live && s.Gateway == b.WebSocketUri,
                "the client to move to the other gateway", Long);
            await Wait.ForAsync(root, s => s.Status == FeedStatus.Live, "the feed on the other gateway", Long);
            Assert.Equal(b.WebSocketUri, onB.Gateway);
        }
        finally
        {
            await a.DisposeAsync();
        }
    }
}
