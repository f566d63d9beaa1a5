using System.Net.Http.Json;
using Tprcs.Tests.Support;

namespace Tprcs.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public class FeedSocketTests(GatewayFixture fixture)
{
    private TestGateway G => fixture.Gateway;
    private const string Submissions = $"/api/v1/elections/{TestGateway.Election}/submissions";

    private static string Ward(string unit) => unit[..unit.LastIndexOf('/')];

    private async Task SubmitAsync(string unit, int apc = 100)
    {
        var response = await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("ws"), unit, apc: apc));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Subscribe_gives_a_snapshot_then_a_submission_gives_the_next_delta_at_every_level()
    {
        var unit = Bodies.Unit(40);
        var ward = $"{TestGateway.Election}/{Ward(unit)}";
        var root = $"{TestGateway.Election}/ED";
        await using var client = await FeedTestClient.ConnectAsync(G.WebSocketUri);
        await client.NextOfTypeAsync("hello");
        await client.SubscribeAsync(ward);
        await client.SubscribeAsync(root);
        Assert.Equal("snapshot", (string?)(await client.NextOfTypeAsync("subscribed", ward))["mode"]);
        var wardDoc = new FeedDoc(await client.NextOfTypeAsync("snapshot", ward));
        var rootDoc = new FeedDoc(await client.NextOfTypeAsync("snapshot", root));
        var before = (long)wardDoc.Row(unit)["tally"]!["votes"]!.AsArray().Sum(v => (long)v!);

        await SubmitAsync(unit, apc: 23);

        // Feeds are separate streams: the ward's and the nation's updates may arrive in either
        // order, so both are followed in one loop. The server may also send a fresh snapshot at
        // any time (after a resync); deltas then follow it.
        var docs = new Dictionary<string, FeedDoc> { [ward] = wardDoc, [root] = rootDoc };
        bool WardCounted() => (string?)docs[ward].Row(unit)["status"] == "counted";
        bool RootCounted() => docs[root].Row(unit[..5])["tally"]!["units"]!["counted"]!.GetValue<int>() >= 1;
        await client.NextAsync(m =>
        {
            if ((string?)m["feed"] is { } feed && docs.ContainsKey(feed))
            {
                if ((string?)m["type"] == "snapshot")
                {
                    docs[feed] = new FeedDoc(m);
                }
                else if ((string?)m["type"] == "delta")
                {
                    docs[feed].Apply(m);
                }
            }

            return WardCounted() && RootCounted();
        }, "the ward and the national feed both counting the unit");

        Assert.Equal(before + 23 + 80, (long)docs[ward].Row(unit)["tally"]!["votes"]!.AsArray().Sum(v => (long)v!));
    }

    [Fact]
    public async Task Resume_after_a_drop_gets_exactly_the_missed_deltas()
    {
        var units = Enumerable.Range(50, 40).Select(Bodies.Unit).GroupBy(Ward).First(g => g.Count() >= 3).Take(3).ToArray();
        var feed = $"{TestGateway.Election}/{Ward(units[0])}";

        await using var watcher = await FeedTestClient.ConnectAsync(G.WebSocketUri);
        await watcher.SubscribeAsync(feed);
        var watched = new FeedDoc(await watcher.NextOfTypeAsync("snapshot", feed));

        var dropped = await FeedTestClient.ConnectAsync(G.WebSocketUri);
        await dropped.SubscribeAsync(feed);
        var held = new FeedDoc(await dropped.NextOfTypeAsync("snapshot", feed));
        Assert.Equal(watched.Seq, held.Seq);
        dropped.Abort();
        await dropped.DisposeAsync();

        var missed = new List<string>();
        foreach (var unit in units)
        {
            await SubmitAsync(unit);
            var delta = await watcher.NextOfTypeAsync("delta", feed);
            watched.Apply(delta);
            missed.Add(delta.ToJsonString());
        }

        await using var resumed = await FeedTestClient.ConnectAsync(G.WebSocketUri);
        await resumed.SubscribeAsync(feed, held.Epoch, held.Seq);
        var subscribed = await resumed.NextOfTypeAsync("subscribed", feed);
        Assert.Equal("resume", (string?)subscribed["mode"]);
        foreach (var expected in missed)
        {
            var delta = await resumed.NextAsync(m => (string?)m["feed"] == feed && (string?)m["type"] is "delta" or "snapshot", "a missed delta");
            Assert.Equal(expected, delta.ToJsonString());
            held.Apply(delta);
        }

        Assert.Equal(watched.Seq, held.Seq);
        Assert.Equal(watched.Totals.ToJsonString(), held.Totals.ToJsonString());
    }

    [Fact]
    public async Task A_position_from_another_epoch_gets_a_snapshot_and_an_unknown_feed_an_error()
    {
        var feed = $"{TestGateway.Election}/ED/02";
        await using var client = await FeedTestClient.ConnectAsync(G.WebSocketUri);
        await client.SubscribeAsync(feed, "not-an-epoch", 3);
        Assert.Equal("snapshot", (string?)(await client.NextOfTypeAsync("subscribed", feed))["mode"]);
        new FeedDoc(await client.NextOfTypeAsync("snapshot", feed)).AssertConsistent();

        await client.SubscribeAsync($"{TestGateway.Election}/ED/99");
        Assert.Equal("unknown-feed", (string?)(await client.NextOfTypeAsync("error"))["code"]);
        await client.SendAsync(new { type = "dance" });
        Assert.Equal("bad-message", (string?)(await client.NextOfTypeAsync("error"))["code"]);
        await client.SendAsync(new { type = "ping" });
        await client.NextOfTypeAsync("pong");
    }

    [Fact]
    public async Task A_gateway_node_subscribes_to_a_feed_once_however_many_clients_watch_it()
    {
        var feed = $"{TestGateway.Election}/ED/03";
        var hub = (Tprcs.Gateway.Feeds.FeedHub)G.Services.GetService(typeof(Tprcs.Gateway.Feeds.FeedHub))!;
        var clients = new List<FeedTestClient>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var c = await FeedTestClient.ConnectAsync(G.WebSocketUri);
                clients.Add(c);
                await c.SubscribeAsync(feed);
                await c.NextOfTypeAsync("snapshot", feed);
            }

            Assert.Equal(5, hub.Find(feed)!.Watchers);
            Assert.Same(hub.Find(feed), await hub.AcquireAsync(feed));
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }
}
