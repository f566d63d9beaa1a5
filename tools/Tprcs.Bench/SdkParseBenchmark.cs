using System.Collections.Immutable;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Tprcs.Client;

namespace Tprcs.Bench;

/// <summary>
/// The SDK's cost per received message, side by side in one run: the source-generated serializer
/// the SDK used to read server messages with, against its own <c>WireReader</c>, on the messages a
/// national feed of the Nigeria-scale election carries (a snapshot with 37 state rows of 18 parties,
/// a delta with the 20 rows a busy flush changes, a heartbeat). Prints µs and bytes allocated per message.
/// </summary>
public static class SdkParseBenchmark
{
    public static int Run(int iterations)
    {
        var random = new Random(42);
        var parties = Enumerable.Range(0, 18).Select(i => $"P{i:00}").ToImmutableArray();
        Tally RandomTally() => new(
            [.. parties.Select(_ => random.NextInt64(0, 2_000_000))],
            random.NextInt64(1_000_000, 9_000_000), random.NextInt64(500_000, 4_000_000), random.NextInt64(0, 50_000),
            random.NextInt64(500_000, 4_000_000), random.NextInt64(500_000, 4_000_000),
            new UnitCounts(random.Next(2_000, 9_000), random.Next(0, 2_000), random.Next(0, 2_000), random.Next(0, 50)),
            random.NextInt64(0, 4_000_000), random.NextInt64(0, 100_000), new FlagCounts(random.Next(9), random.Next(9), random.Next(9), random.Next(9), 0, 0, random.Next(9)));
        var rows = Enumerable.Range(1, 37).Select(i => new FeedRow($"NG/{i:00}", $"State {i:00}", random.NextInt64(1, 1_000_000), RandomTally())).ToImmutableArray();
        var doc = new FeedDocument("ng-2027-pres", new AreaInfo("NG", "Nigeria", "nation", 93_469_008), "state", parties,
            "c1010a518d74e848", 4_211, 913_000, RandomTally(), rows, DateTimeOffset.UtcNow, false);
        var docJson = JsonSerializer.Serialize(doc, TprcsJsonContext.Default.FeedDocument);
        var rowsJson = JsonSerializer.Serialize(rows[..20], TprcsJsonContext.Default.Options);
        var totalsJson = JsonSerializer.Serialize(doc.Totals, TprcsJsonContext.Default.Options);
        (string Name, byte[] Utf8)[] messages =
        [
            ("snapshot, 37 rows", Encoding.UTF8.GetBytes($$"""{"type":"snapshot","feed":"ng-2027-pres/NG","epoch":"c1010a518d74e848","seq":4211,"doc":{{docJson}}}""")),
            ("delta, 20 rows", Encoding.UTF8.GetBytes($$"""{"type":"delta","feed":"ng-2027-pres/NG","epoch":"c1010a518d74e848","seq":4212,"version":913020,"updatedAt":"2026-12-04T16:02:42.2+00:00","totals":{{totalsJson}},"rows":{{rowsJson}}}""")),
            ("heartbeat", """{"type":"heartbeat","time":1764864000000,"retryWindowMs":5000}"""u8.ToArray()),
        ];

        Console.WriteLine($"SDK message reading, {iterations:N0} reads of each message after a warm-up (one thread; lower is better):");
        Console.WriteLine();
        Console.WriteLine("| message | bytes | source-generated serializer µs / KiB allocated | WireReader µs / KiB allocated | time ratio |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (name, utf8) in messages)
        {
            var serializer = Measure(utf8, iterations, static m => JsonSerializer.Deserialize(m, TprcsJsonContext.Default.ServerMessage));
            var reader = Measure(utf8, iterations, static m => WireReader.Read(m));
            Console.WriteLine($"| {name} | {utf8.Length:N0} | {serializer.Us:N2} / {serializer.KiB:N1} | {reader.Us:N2} / {reader.KiB:N1} | {reader.Us / serializer.Us:N2}× |");
        }

        return 0;
    }

    private static (double Us, double KiB) Measure(byte[] message, int iterations, Func<byte[], ServerMessage?> read)
    {
        for (var i = 0; i < Math.Max(1_000, iterations / 10); i++)
        {
            GC.KeepAlive(read(message));
        }

        GC.Collect();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            GC.KeepAlive(read(message));
        }

        var elapsed = clock.Elapsed;
        return (elapsed.TotalMicroseconds / iterations, (GC.GetAllocatedBytesForCurrentThread() - allocated) / 1024.0 / iterations);
    }
}
