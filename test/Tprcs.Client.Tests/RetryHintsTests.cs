namespace Tprcs.Client.Tests;

public class RetryHintsTests
{
    [Theory]
    [InlineData("retry-after:1500", 1500)]
    [InlineData("retry-after: 20", 20)]
    [InlineData("Retry-After:0", 0)]
    public void A_close_reason_retry_after_gives_milliseconds(string reason, int ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), RetryHints.FromCloseReason(reason));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("going away")]
    [InlineData("retry-after:soon")]
    [InlineData("retry-after:-5")]
    public void Other_close_reasons_give_no_hint(string? reason) => Assert.Null(RetryHints.FromCloseReason(reason));

    [Fact]
    public void Retry_after_headers_give_seconds_or_a_date()
    {
        var now = new DateTimeOffset(2026, 12, 4, 16, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(3), RetryHints.FromRetryAfter("3", now));
        Assert.Equal(TimeSpan.FromSeconds(90), RetryHints.FromRetryAfter("Fri, 04 Dec 2026 16:01:30 GMT", now));
        Assert.Null(RetryHints.FromRetryAfter("later", now));
        var headers = new Dictionary<string, IEnumerable<string>> { ["retry-after"] = ["7"] };
        Assert.Equal(TimeSpan.FromSeconds(7), RetryHints.FromRetryAfter(headers, now));
        Assert.Null(RetryHints.FromRetryAfter(new Dictionary<string, IEnumerable<string>>(), now));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", "ws://127.0.0.1:5080/ws")]
    [InlineData("https://results.example/", "wss://results.example/ws")]
    [InlineData("ws://node-2:8080/ws", "ws://node-2:8080/ws")]
    [InlineData("wss://node-3/feeds", "wss://node-3/feeds")]
    public void Gateway_urls_are_normalized_to_the_feed_endpoint(string given, string expected) =>
        Assert.Equal(new Uri(expected), GatewayList.Normalize(new Uri(given)));

    [Fact]
    public void Gateways_from_hello_are_added_once_and_a_drained_url_is_avoided()
    {
        var list = new GatewayList([new Uri("ws://a/ws")]);
        using var hello = System.Text.Json.JsonDocument.Parse("""["ws://a/ws", "http://b", {"url": "ws://c/ws"}, 42, "ws://127.0.0.1:0/ws"]""");
        Assert.Equal(2, list.Merge(hello.RootElement));
        Assert.Equal([new Uri("ws://a/ws"), new Uri("ws://b/ws"), new Uri("ws://c/ws")], list.All);
        Assert.Equal(new Uri("ws://a/ws"), list.Current);
        Assert.NotEqual(new Uri("ws://a/ws"), list.MoveAwayFrom(new Uri("ws://a/ws")));

        var single = new GatewayList([new Uri("ws://only/ws")]);
        Assert.Equal(new Uri("ws://only/ws"), single.MoveAwayFrom(new Uri("ws://only/ws")));
    }

    [Fact]
    public void A_url_that_refused_a_connection_is_skipped_for_a_while_while_others_are_known()
    {
        var dead = new Uri("ws://dead/ws");
        var list = new GatewayList([dead, new Uri("ws://b/ws"), new Uri("ws://c/ws")]);
        var now = new DateTimeOffset(2026, 12, 4, 20, 0, 0, TimeSpan.Zero);
        list.MarkUnreachable(dead, now);
        var picked = Enumerable.Range(0, 200).Select(_ => list.Advance(now + TimeSpan.FromSeconds(5))).ToList();
        Assert.DoesNotContain(dead, picked);
        Assert.Contains(new Uri("ws://b/ws"), picked);
        Assert.Contains(new Uri("ws://c/ws"), picked);

        // Once the time has passed it is a candidate again.
        var later = now + GatewayList.UnreachableFor + TimeSpan.FromSeconds(1);
        Assert.Contains(dead, Enumerable.Range(0, 200).Select(_ => list.Advance(later)));

        // With every other URL unreachable too, the worker still moves on (it never gives up).
        var pair = new GatewayList([dead, new Uri("ws://other/ws")]);
        pair.MarkUnreachable(new Uri("ws://other/ws"), now);
        Assert.Equal(new Uri("ws://other/ws"), pair.Advance(now));
    }
}
