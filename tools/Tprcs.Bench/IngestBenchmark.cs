using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Tprcs.Contracts;
using Tprcs.Grains.Domain;
using Tprcs.Grains.Elections;

namespace Tprcs.Bench;

/// <summary>
/// Every polling unit's sheet through the HTTP API of one embedded gateway: sheets/s, submit latency,
/// the time until the national feed shows every unit counted, and whether every total is exact.
/// </summary>
public static class IngestBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        Console.WriteLine($"Generating the '{options.Shape}' election and its sheets...");
        var election = ElectionLoader.Load(ElectionGenerator.Create(options.Shape, options.Shape == "nigeria" ? 2027 : 2024));
        var units = election.PollingUnitsBelow(election.Root.Code).ToList();
        var random = new Random(42);
        units = units.OrderBy(_ => random.Next()).Take(options.Limit ?? units.Count).ToList();
        var expected = new long[election.Parties.Count];
        var bodies = units.Select((u, i) => SheetGenerator.Consistent(election, u, $"bench-{i}", random, expected)).ToArray();
        Console.WriteLine($"{election.Id}: {units.Count:N0} sheets to submit, {options.Concurrency} in flight.");

        await using var gateway = options.Url is null
            ? await GatewayProcess.StartAsync(options.GatewayDll ?? GatewayProcess.DefaultDll(), options.Shape)
            : null;
        var baseUrl = gateway?.Url ?? new Uri(options.Url!);
        var cpuBefore = gateway?.CpuTime ?? TimeSpan.Zero;

        using var national = new NationalWatcher(baseUrl, $"{election.Id}/{election.Root.Code}", units.Count);
        await national.StartAsync();

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromSeconds(60),
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "bench-token");
        var path = $"/api/v1/elections/{election.Id}/submissions";
        var latencies = new long[bodies.Length];
        var done = 0;
        var retries = 0;
        var clock = Stopwatch.StartNew();
        using var progress = new Timer(_ =>
        {
            var n = Volatile.Read(ref done);
            Console.Write($"\r  {n,9:N0} / {bodies.Length:N0} stored   {n / clock.Elapsed.TotalSeconds,7:N0} sheets/s   national counted {national.Counted,9:N0}   ");
        }, null, 1000, 1000);

        await Parallel.ForEachAsync(Enumerable.Range(0, bodies.Length), new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency }, async (i, ct) =>
        {
            for (var attempt = 0; ; attempt++)
            {
                var start = Stopwatch.GetTimestamp();
                using var content = new ByteArrayContent(bodies[i]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync(path, content, ct);
                if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
                {
                    latencies[i] = Stopwatch.GetTimestamp() - start;
                    Interlocked.Increment(ref done);
                    return;
                }

                if (attempt >= 5 || (int)response.StatusCode < 500)
                {
                    throw new InvalidOperationException($"Sheet {i} refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                }

                Interlocked.Increment(ref retries);
            }
        });
        var ingest = clock.Elapsed;
        var completed = await national.Completed.WaitAsync(TimeSpan.FromSeconds(300));
        var cpu = (gateway?.CpuTime ?? TimeSpan.Zero) - cpuBefore;
        var rss = gateway?.WorkingSetBytes ?? 0;
        progress.Dispose();
        Console.WriteLine();

        Array.Sort(latencies);
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var exact = national.Votes.SequenceEqual(expected);
        Console.WriteLine($"""

            Ingest of {bodies.Length:N0} sheets ({election.Id}) through POST {path}, {options.Concurrency} in flight
              durable sheets/s          {bodies.Length / ingest.TotalSeconds:N0}
              all acknowledged after    {ingest.TotalSeconds:N1} s
              submit latency p50        {Ms(latencies[latencies.Length / 2]):N1} ms
              submit latency p99        {Ms(latencies[(int)(latencies.Length * 0.99)]):N1} ms
              submit latency max        {Ms(latencies[^1]):N1} ms
              national feed all counted {completed.TotalSeconds:N1} s after the first submission
              retries (5xx)             {retries}
              gateway CPU time          {cpu.TotalSeconds:N1} s ({cpu.TotalMilliseconds / bodies.Length * 1000:N0} µs per sheet)
              gateway working set       {rss / 1024.0 / 1024:N0} MiB at the end
              national totals exact     {(exact ? "yes" : "NO")} (votes per party equal the sums of the sheets sent)
            """);
        return exact ? 0 : 1;
    }

    /// <summary>Watches the national feed over the WebSocket protocol and notes when every unit is counted.</summary>
    private sealed class NationalWatcher(Uri baseUrl, string feed, int units) : IDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private readonly TaskCompletionSource<TimeSpan> _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private volatile int _counted;

        public int Counted => _counted;
        public long[] Votes { get; private set; } = [];
        public Task<TimeSpan> Completed => _completed.Task;

        public async Task StartAsync()
        {
            _socket.Options.AddSubProtocol("tprcs.v1");
            await _socket.ConnectAsync(new UriBuilder(baseUrl) { Scheme = "ws", Path = "/ws" }.Uri, CancellationToken.None);
            await _socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{feed}}"}"""), WebSocketMessageType.Text, true, CancellationToken.None);
            _clock.Restart();
            _ = Task.Run(ReceiveAsync);
        }

        private async Task ReceiveAsync()
        {
            var buffer = new byte[1 << 20];
            while (_socket.State == WebSocketState.Open)
            {
                var length = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage);

                using var doc = JsonDocument.Parse(buffer.AsMemory(0, length));
                var type = doc.RootElement.GetProperty("type").GetString();
                var totals = type switch
                {
                    "snapshot" => doc.RootElement.GetProperty("doc").GetProperty("totals"),
                    "delta" => doc.RootElement.GetProperty("totals"),
                    _ => default,
                };
                if (totals.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                _counted = totals.GetProperty("units").GetProperty("counted").GetInt32();
                Votes = totals.GetProperty("votes").EnumerateArray().Select(v => v.GetInt64()).ToArray();
                if (_counted >= units)
                {
                    _completed.TrySetResult(_clock.Elapsed);
                }
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
