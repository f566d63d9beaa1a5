using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Tprcs.Client.Tests.Support;

namespace Tprcs.Client.Tests;

/// <summary>
/// The SDK's hand-written message reader reads exactly what the source-generated serializer reads:
/// the same message for every valid input, and a refusal (JsonException) for every input the
/// serializer refuses.
/// </summary>
public class WireReaderTests
{
    private static string Doc(FeedDocument doc) => JsonSerializer.Serialize(doc, TprcsJsonContext.Default.FeedDocument);

    private static string Tally(Tally tally) => JsonSerializer.Serialize(tally, TprcsJsonContext.Default.Options);

    private static readonly FeedDocument Ward = Docs.Snapshot("e1", 7, 40, Docs.Row(1, 100, 80), Docs.Row(2, 50, 60, version: 3), Docs.Row(3));

    private static string Snapshot => $$"""{"type":"snapshot","feed":"{{Docs.Feed}}","epoch":"e1","seq":7,"doc":{{Doc(Ward)}}}""";

    private static string Delta =>
        $$"""{"type":"delta","feed":"{{Docs.Feed}}","epoch":"e1","seq":8,"version":41,"updatedAt":"2026-12-04T16:02:42.2+00:00","totals":{{Tally(Ward.Totals)}},"rows":[{"code":"ED/01/01/002","name":"PU 002","version":4,"status":"counted","tally":{{Tally(Ward.Rows[1].Tally)}}}]}""";

    public static TheoryData<string> Valid => new()
    {
        """{"type":"hello","protocol":"tprcs.v1","node":"n1","heartbeatMs":15000,"retryWindowMs":5000,"gateways":["ws://a/ws",{"url":"ws://b/ws"}]}""",
        """{"type":"heartbeat","time":1764864000000,"retryWindowMs":0}""",
        """{"type":"subscribed","feed":"edo-2024-gov/ED","mode":"resume","epoch":"e1","seq":12}""",
        """{"type":"drain","retryAfterMs":2500,"reason":"shutdown"}""",
        """{"type":"error","feed":"edo-2024-gov/XX","code":"unknown-feed","message":"No such area.","retryAfterMs":null}""",
        """{"type":"pong","time":5}""",
        """{"type":"unsubscribed","feed":"edo-2024-gov/ED"}""",
        Snapshot,
        Delta,
        // A delta without rows, and one whose rows are null.
        $$"""{"type":"delta","feed":"f","epoch":"e1","seq":8,"version":41,"updatedAt":"2026-12-04T16:02:42Z","totals":{{Tally(Ward.Totals)}},"rows":[]}""",
        $$"""{"type":"delta","feed":"f","epoch":"e1","seq":8,"version":41,"updatedAt":"2026-12-04T16:02:42Z","totals":{{Tally(Ward.Totals)}},"rows":null}""",
        // A newer server's fields and types are skipped, at any depth.
        """{"type":"future","feed":"f","extra":{"a":[1,{"b":null}],"c":"d"},"more":[[]],"seq":3}""",
        $$"""{"type":"snapshot","feed":"f","epoch":"e1","seq":7,"doc":{{Doc(Ward)[..^1]}},"newField":{"x":[1,2]}""" + "}}",
        // Web defaults: names in any case, numbers also as strings, escaped names, white space.
        """{"Type":"subscribed","FEED":"f","Mode":"snapshot","epoch":"e1","seq":"12"}""",
        """ { "\u0074ype" : "heartbeat" , "time" : 7 } """,
        // Nulls where the message allows them.
        """{"type":null,"feed":null,"doc":null,"totals":null,"gateways":null,"seq":null}""",
        """{}""",
        """null""",
    };

    public static TheoryData<string> Refused => new()
    {
        "",
        "   ",
        "[1,2]",
        "\"text\"",
        """{"type":"heartbeat" """,
        """{"type":"heartbeat"} {"type":"heartbeat"}""",
        """{"type":"heartbeat"} x""",
        """{"type":"heartbeat",}""",
        """{"type":7}""",
        """{"seq":true}""",
        """{"seq":1.5}""",
        """{"seq":"x"}""",
        """{"seq":99999999999999999999}""",
        """{"updatedAt":"yesterday"}""",
        """{"updatedAt":5}""",
        """{"gateways":}""",
        // Required fields missing or null inside the records.
        Delta.Replace("\"flags\":", "\"flagz\":"),
        Delta.Replace("\"overVoting\":0,", ""),
        Delta.Replace("\"code\":\"ED/01/01/002\"", "\"code\":null"),
        Delta.Replace("\"votes\":[", "\"votes\":[null,"),
        Delta.Replace("\"units\":{", "\"units\":[{").Replace("},\"registeredCovered\"", "}],\"registeredCovered\""),
        Snapshot.Replace("\"atRisk\":false", "\"atRisk\":\"no\""),
        Snapshot.Replace("\"electionId\":\"edo-2024-gov\",", ""),
        Snapshot.Replace("\"area\":{\"code\"", "\"area\":{\"kode\""),
        // A lone surrogate escaped in a string: the reader's GetString throws InvalidOperationException for it.
        """{"type":"error","message":"\ud800"}""",
        Snapshot.Replace("\"name\":\"", "\"name\":\"\\udc00"),
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void It_reads_what_the_serializer_reads(string json)
    {
        var expected = JsonSerializer.Deserialize(json, TprcsJsonContext.Default.ServerMessage);
        var actual = WireReader.Read(Encoding.UTF8.GetBytes(json));

        Assert.Equal(Canonical(expected), Canonical(actual));
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void It_refuses_what_the_serializer_refuses(string json)
    {
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize(json, TprcsJsonContext.Default.ServerMessage));
        Assert.ThrowsAny<JsonException>(() => WireReader.Read(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void A_null_row_is_refused_where_the_serializer_would_hand_it_to_the_store()
    {
        var json = Snapshot.Replace("\"rows\":[", "\"rows\":[null,");
        Assert.Contains(null, JsonSerializer.Deserialize(json, TprcsJsonContext.Default.ServerMessage)!.Doc!.Rows);

        var refusal = Assert.ThrowsAny<JsonException>(() => WireReader.Read(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("rows", refusal.Message);
    }

    [Fact]
    public void Random_documents_read_the_same_as_with_the_serializer()
    {
        var random = new Random(20261204);
        for (var n = 0; n < 200; n++)
        {
            var parties = Enumerable.Range(0, random.Next(1, 20)).Select(i => $"P{i}").ToImmutableArray();
            var rows = Enumerable.Range(0, random.Next(0, 40)).Select(i => new FeedRow(
                $"NG/{i:00}", $"Área \"{i}\" ✓", random.NextInt64(0, 1L << 40), RandomTally(random, parties.Length),
                random.Next(3) switch { 0 => null, 1 => "counted", _ => "conflict" })).ToImmutableArray();
            var doc = new FeedDocument("ng-2027-pres", new AreaInfo("NG", "Nigeria", "nation", random.NextInt64(1L << 33), random.Next(2) == 0 ? null : "X"),
                "state", parties, Guid.NewGuid().ToString("N")[..16], random.NextInt64(long.MaxValue), random.NextInt64(long.MaxValue),
                RandomTally(random, parties.Length), rows, DateTimeOffset.UnixEpoch.AddTicks(random.NextInt64(1L << 60)).ToOffset(TimeSpan.FromMinutes(random.Next(-600, 600))),
                random.Next(2) == 0);
            var json = $$"""{"type":"snapshot","feed":"ng-2027-pres/NG","epoch":"{{doc.Epoch}}","seq":{{doc.Seq}},"doc":{{Doc(doc)}}}""";

            var expected = JsonSerializer.Deserialize(json, TprcsJsonContext.Default.ServerMessage);
            var actual = WireReader.Read(Encoding.UTF8.GetBytes(json));

            Assert.Equal(Canonical(expected), Canonical(actual));
            Assert.Equal(doc.Rows.Length, actual!.Doc!.Rows.Length);
            Assert.Equal(doc.UpdatedAt, actual.Doc.UpdatedAt);
        }
    }

    private static Tally RandomTally(Random random, int parties) => new(
        [.. Enumerable.Range(0, parties).Select(_ => random.NextInt64(0, 1L << 50))],
        random.NextInt64(), random.NextInt64(), random.NextInt64(), random.NextInt64(), random.NextInt64(),
        new UnitCounts(random.NextInt64(), random.NextInt64(), random.NextInt64(), random.NextInt64()),
        random.NextInt64(), random.NextInt64(),
        new FlagCounts(random.NextInt64(), random.NextInt64(), random.NextInt64(), random.NextInt64(), random.NextInt64(), random.NextInt64(), random.NextInt64()));

    private static string Canonical(ServerMessage? message) => JsonSerializer.Serialize(message, TprcsJsonContext.Default.ServerMessage);
}
