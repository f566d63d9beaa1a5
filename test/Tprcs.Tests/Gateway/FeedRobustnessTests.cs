using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Tprcs.Contracts;
using Tprcs.Gateway.Feeds;
using Tprcs.Tests.Support;

namespace Tprcs.Tests.Gateway;

/// <summary>Each test starts its own gateway(s): these tests change settings, block sockets or stop nodes.</summary>
public class FeedRobustnessTests
{
    private const string Root = $"{TestGateway.Election}/ED";
    private const string Submissions = $"/api/v1/elections/{TestGateway.Election}/submissions";

    private static async Task SubmitAsync(TestGateway g, int n)
    {
        var response = await g.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("rb"), Bodies.Unit(n)));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_client_that_never_reads_stays_within_its_queue_bound_while_others_keep_up_and_it_ends_exact()
    {
        const int bound = 4096;
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:SendQueueBytes"] = bound.ToString(),
            ["Tprcs:Feeds:Gateway:MaxConsecutiveOverflows"] = "1000",
        });
        var hub = g.Services.GetRequiredService<FeedHub>();
        var feed = (await hub.AcquireAsync(Root))!;
        var blocked = new BlockedSocket();
        using var stop = new CancellationTokenSource();
        var slow = new FeedConnection(blocked, new FeedGatewayOptions { SendQueueBytes = bound, MaxConsecutiveOverflows = 1000 });
        var writer = slow.RunWriterAsync(stop.Token);
        await feed.AttachAsync(slow, null, null);

        await using var fast = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        await fast.SubscribeAsync(Root);
        var doc = new FeedDoc(await fast.NextOfTypeAsync("snapshot", Root));
        long peak = 0;
        for (var n = 0; n < 30; n++)
        {
            await SubmitAsync(g, n * 37);
            // The fast client gets every update in order, promptly, whatever the slow one does.
            await fast.NextAsync(m =>
            {
                if ((string?)m["type"] == "delta" && (string?)m["feed"] == Root)
                {
                    doc.Apply(m);
                }

                return (long)doc.Totals["units"]!["reported"]! >= n + 1;
            }, $"the fast client seeing sheet {n + 1}", TimeSpan.FromSeconds(5));
            peak = Math.Max(peak, slow.QueuedBytes);
        }

        Assert.InRange(peak, 1, bound);
        Assert.Empty(blocked.Sent);

        blocked.Release();
        await Wait.UntilAsync(() => Task.FromResult(blocked.Sent.Any(m => (string?)m["type"] == "snapshot" && (long)m["seq"]! == doc.Seq)),
            TimeSpan.FromSeconds(10), $"the slow client receiving a fresh snapshot at seq {doc.Seq} once it reads again");
        var last = blocked.Sent.Last(m => (string?)m["type"] == "snapshot");
        var caught = new FeedDoc(last);
        Assert.Equal(doc.Totals.ToJsonString(), caught.Totals.ToJsonString());
        await stop.CancelAsync();
    }

    [Fact]
    public async Task A_client_that_stays_behind_past_the_limit_is_closed_with_4008()
    {
        await using var g = await TestGateway.StartAsync();
        var feed = (await g.Services.GetRequiredService<FeedHub>().AcquireAsync(Root))!;
        var blocked = new BlockedSocket();
        var slow = new FeedConnection(blocked, new FeedGatewayOptions { SendQueueBytes = 4096, MaxConsecutiveOverflows = 2 });
        var writer = slow.RunWriterAsync(CancellationToken.None);
        await feed.AttachAsync(slow, null, null);
        for (var n = 0; !slow.TooSlow && n < 30; n++)
        {
            var before = feed.Position!.Value.Seq;
            await SubmitAsync(g, 500 + n);
            await Wait.UntilAsync(() => Task.FromResult(feed.Position!.Value.Seq > before), TimeSpan.FromSeconds(5), $"the feed publishing sheet {n + 1}");
        }

        Assert.True(slow.TooSlow, "the connection never overflowed past its limit");
        blocked.Release();
        await writer.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((WebSocketCloseStatus)CloseCodes.SlowConsumer, blocked.CloseStatus);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Upgrades_beyond_the_admission_budget_get_503_with_retry_after_before_the_upgrade(bool direct)
    {
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:AdmissionPerSecond"] = "1",
            ["Tprcs:Feeds:Gateway:AdmissionBurst"] = "2",
            ["Tprcs:Feeds:Gateway:DirectWebSockets"] = direct ? "true" : "false",
        });
        await using var first = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        await using var second = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        using var third = new ClientWebSocket();
        third.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => third.ConnectAsync(g.WebSocketUri, CancellationToken.None));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, third.HttpStatusCode);
        var retryAfter = int.Parse(third.HttpResponseHeaders!["Retry-After"].Single());
        Assert.InRange(retryAfter, 1, 10);
    }

    [Fact]
    public async Task Drain_tells_each_client_to_leave_at_its_own_time_within_the_window_then_closes()
    {
        var g = await TestGateway.StartAsync(settings: new Dictionary<string, string> { ["Tprcs:Feeds:Gateway:DrainWindow"] = "00:00:02" });
        var clients = new List<FeedTestClient>();
        for (var i = 0; i < 6; i++)
        {
            var c = await FeedTestClient.ConnectAsync(g.WebSocketUri);
            await c.NextOfTypeAsync("hello");
            clients.Add(c);
        }

        var stopping = g.DisposeAsync().AsTask();
        var delays = new List<int>();
        foreach (var c in clients)
        {
            var drain = await c.NextOfTypeAsync("drain");
            delays.Add((int)drain["retryAfterMs"]!);
        }

        Assert.All(delays, d => Assert.InRange(d, 0, 2_000));
        Assert.True(delays.Distinct().Count() > 1, $"all clients were given the same delay {delays[0]} ms");

        // Clients that do not leave by themselves are closed at the end of the window.
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var c in clients)
        {
            await c.NextAsync(_ => false, "nothing more before the close").ContinueWith(_ => { }, TaskScheduler.Default);
            Assert.NotEqual(WebSocketState.Open, c.State);
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_client_resumes_on_another_gateway_node_with_exactly_the_missed_deltas()
    {
        await using var a = await TestGateway.StartAsync();
        await using var b = await TestGateway.StartAsync(a.DataDirectory, a.JoinSettings());
        var units = Enumerable.Range(100, 60).Select(Bodies.Unit).GroupBy(u => u[..u.LastIndexOf('/')]).First(x => x.Count() >= 2).Take(2).ToArray();
        var feed = $"{TestGateway.Election}/{units[0][..units[0].LastIndexOf('/')]}";

        await using var onA = await FeedTestClient.ConnectAsync(a.WebSocketUri);
        await onA.SubscribeAsync(feed);
        var held = new FeedDoc(await onA.NextOfTypeAsync("snapshot", feed));
        var missed = new List<string>();
        foreach (var unit in units)
        {
            var response = await a.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("node"), unit));
            Assert.True(response.IsSuccessStatusCode);
            missed.Add((await onA.NextOfTypeAsync("delta", feed)).ToJsonString());
        }

        // Node B has never opened this feed: the missed deltas come from the area grain's window.
        await using var onB = await FeedTestClient.ConnectAsync(b.WebSocketUri);
        var hello = await onB.NextOfTypeAsync("hello");
        await onB.SubscribeAsync(feed, held.Epoch, held.Seq);
        Assert.Equal("resume", (string?)(await onB.NextOfTypeAsync("subscribed", feed))["mode"]);
        var resumeFrom = held.Seq;
        foreach (var expected in missed)
        {
            var delta = await onB.NextAsync(m => (string?)m["feed"] == feed && (string?)m["type"] is "delta" or "snapshot", "a missed delta on node B");
            Assert.Equal(expected, delta.ToJsonString());
            held.Apply(delta);
        }

        // The grain's answer now sits in node B's window: the next client of node A that resumes
        // from the same position (a herd does) is served by node B without asking the grain again.
        var onNodeB = (await b.Services.GetRequiredService<FeedHub>().AcquireAsync(feed))!;
        Assert.True(onNodeB.WindowStart <= resumeFrom + 1, $"node B's window starts at {onNodeB.WindowStart}, after {resumeFrom + 1}");
        await using var second = await FeedTestClient.ConnectAsync(b.WebSocketUri);
        await second.SubscribeAsync(feed, held.Epoch, resumeFrom);
        Assert.Equal("resume", (string?)(await second.NextOfTypeAsync("subscribed", feed))["mode"]);
        foreach (var expected in missed)
        {
            var delta = await second.NextAsync(m => (string?)m["feed"] == feed && (string?)m["type"] is "delta" or "snapshot", "a missed delta for the second client");
            Assert.Equal(expected, delta.ToJsonString());
        }

        // Both nodes announce themselves: clients learn the URLs to rotate across.
        await Wait.UntilAsync(async () =>
        {
            await using var probe = await FeedTestClient.ConnectAsync(b.WebSocketUri);
            var h = await probe.NextOfTypeAsync("hello");
            return h["gateways"]!.AsArray().Count == 2;
        }, TimeSpan.FromSeconds(15), "node B's hello listing both gateway nodes");
        Assert.NotNull(hello["retryWindowMs"]);
    }

    [Fact]
    public async Task When_a_node_fills_up_every_client_is_told_the_larger_retry_window_at_once()
    {
        // Alone, a node's window is its connections over its own admission rate: 1 s per client here.
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:AdmissionPerSecond"] = "1",
            ["Tprcs:Feeds:Gateway:AdmissionBurst"] = "3",
            ["Tprcs:Feeds:Gateway:HeartbeatInterval"] = "00:00:05",
        });
        await using var first = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        var hello = await first.NextOfTypeAsync("hello");
        Assert.Equal(1_000, (int)hello["retryWindowMs"]!);
        await using var second = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        await using var third = await FeedTestClient.ConnectAsync(g.WebSocketUri);

        // Regular heartbeats come after 4 s at the earliest; the larger window must not wait for them.
        var heartbeat = await first.NextAsync(m => (string?)m["type"] == "heartbeat" && (int)m["retryWindowMs"]! >= 3_000,
            "the first client told the window of three connections", TimeSpan.FromSeconds(3));
        Assert.Equal(3_000, (int)heartbeat["retryWindowMs"]!);
    }

    [Fact]
    public async Task A_delta_out_of_sequence_on_the_stream_is_never_shown_and_the_feed_stays_exact()
    {
        await using var g = await TestGateway.StartAsync();
        await using var client = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        await client.SubscribeAsync(Root);
        var doc = new FeedDoc(await client.NextOfTypeAsync("snapshot", Root));

        // A delta from the future (its predecessor lost): the node must ask the grain, not apply it.
        var cluster = g.Services.GetRequiredService<IClusterClient>();
        var stream = cluster.GetStreamProvider(Keys.StreamProvider).GetStream<FeedDelta>(StreamId.Create(Keys.FeedNamespace, Root));
        var snapshot = await cluster.GetGrain<IAreaGrain>(Root).GetSnapshot();
        var bogus = new FeedDelta(snapshot.ElectionId, snapshot.Area.Code, snapshot.Epoch, snapshot.Seq + 2, snapshot.Version + 99,
            snapshot.Totals with { UnitsReported = 12_345 }, [], DateTimeOffset.UtcNow);
        await stream.OnNextAsync(bogus);

        await SubmitAsync(g, 900);
        await client.NextAsync(m =>
        {
            if ((string?)m["type"] == "delta")
            {
                Assert.NotEqual(12_345L, (long)m["totals"]!["units"]!["reported"]!);
                doc.Apply(m);
            }

            return (long)doc.Totals["units"]!["reported"]! >= 1;
        }, "the real update after the out-of-sequence one");
        var truth = await cluster.GetGrain<IAreaGrain>(Root).GetSnapshot();
        Assert.Equal(truth.Totals.UnitsReported, (long)doc.Totals["units"]!["reported"]!);
    }
}

public class FeedConnectionBoundTests
{
    [Fact]
    public void Control_messages_piling_up_on_a_client_that_does_not_read_end_it_instead_of_growing_memory()
    {
        const int bound = 4096;
        var blocked = new BlockedSocket();
        var connection = new FeedConnection(blocked, new FeedGatewayOptions { SendQueueBytes = bound, MaxConsecutiveOverflows = 8 });
        var pong = OutMessage.Control(new HeartbeatMessage("pong", 1), FeedJsonContext.Default.HeartbeatMessage);
        for (var i = 0; i < 10_000 && !connection.TooSlow; i++)
        {
            connection.Enqueue(pong);
            Assert.InRange(connection.QueuedBytes, 0, 2 * bound);
        }

        Assert.True(connection.TooSlow, "a client flooding the node with pings while not reading was never cut off");
    }
}
