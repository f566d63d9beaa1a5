using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Tprcs.Contracts;
using Tprcs.Grains.Domain;
using Tprcs.Grains.Elections;

namespace Tprcs.Load;

/// <summary>The election under load: its root feed, the feeds one level down, and valid sheets spread over them.</summary>
public sealed class ElectionPlan
{
    private readonly Queue<AreaRef>[] _unitsByChild;
    private readonly Random _random = new(42);
    private int _next;
    private int _submitted;

    private ElectionPlan(Election election, string sample)
    {
        Election = election;
        Sample = sample;
        Children = [.. election.ChildrenOf(election.Root.Code)];
        _unitsByChild = Children.Select(c => new Queue<AreaRef>(election.PollingUnitsBelow(c.Code).OrderBy(_ => _random.Next()))).ToArray();
    }

    public Election Election { get; }
    public string Sample { get; }
    public string Id => Election.Id;
    public string RootFeed => $"{Election.Id}/{Election.Root.Code}";
    public AreaRef[] Children { get; }
    public string ChildFeed(int i) => $"{Election.Id}/{Children[i % Children.Length].Code}";

    /// <summary>"ng-2027-pres" or "nigeria": the Nigeria-scale election (root NG, 37 states); "edo-2024-gov" or "edo": Edo (root ED, 18 LGAs).</summary>
    public static ElectionPlan Create(string name)
    {
        var sample = name switch
        {
            "ng-2027-pres" or "nigeria" => ElectionGenerator.NigeriaShape,
            "edo-2024-gov" or "edo" => ElectionGenerator.EdoShape,
            _ => throw new ArgumentException($"Unknown election '{name}': ng-2027-pres or edo-2024-gov."),
        };
        var definition = sample == ElectionGenerator.NigeriaShape ? ElectionGenerator.Nigeria() : ElectionGenerator.Edo();
        return new ElectionPlan(ElectionLoader.Load(definition), sample);
    }

    /// <summary>The next sheet: round-robin over the root's children, so that every child feed moves. Null when all units are used.</summary>
    public byte[]? NextSheet(string runId)
    {
        for (var tries = 0; tries < Children.Length; tries++)
        {
            var q = _unitsByChild[_next++ % Children.Length];
            if (q.TryDequeue(out var unit))
            {
                return SheetGenerator.Consistent(Election, unit, $"load-{runId}-{Interlocked.Increment(ref _submitted)}", _random);
            }
        }

        return null;
    }
}

/// <summary>Submits sheets through POST /api/v1/elections/{id}/submissions at a steady rate.</summary>
public sealed class IngestDriver(ElectionPlan plan, Uri gateway, string token) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 32, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        BaseAddress = gateway,
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    private readonly string _runId = Guid.NewGuid().ToString("N")[..6];
    private int _stored;
    private int _failed;

    public int Stored => _stored;
    public int Failed => _failed;

    /// <summary>Submits <paramref name="rate"/> sheets a second until <paramref name="duration"/> has passed or <paramref name="stop"/> fires.</summary>
    public async Task RunAsync(double rate, TimeSpan duration, CancellationToken stop)
    {
        var path = $"/api/v1/elections/{plan.Id}/submissions";
        var clock = Stopwatch.StartNew();
        var inFlight = new List<Task>();
        long sent = 0;
        while (clock.Elapsed < duration && !stop.IsCancellationRequested)
        {
            var due = (long)(clock.Elapsed.TotalSeconds * rate);
            while (sent < due)
            {
                var body = plan.NextSheet(_runId);
                if (body is null)
                {
                    return;
                }

                sent++;
                inFlight.Add(PostAsync(path, body));
            }

            inFlight.RemoveAll(t => t.IsCompleted);
            if (inFlight.Count > 512)
            {
                await Task.WhenAny(inFlight);
            }

            await Task.Delay(10, CancellationToken.None);
        }

        await Task.WhenAll(inFlight);
    }

    public async Task SubmitAsync(int count)
    {
        var path = $"/api/v1/elections/{plan.Id}/submissions";
        var tasks = new List<Task>();
        for (var i = 0; i < count && plan.NextSheet(_runId) is { } body; i++)
        {
            tasks.Add(PostAsync(path, body));
        }

        await Task.WhenAll(tasks);
    }

    private async Task PostAsync(string path, byte[] body)
    {
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await _http.PostAsync(path, content);
            if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
            {
                Interlocked.Increment(ref _stored);
            }
            else
            {
                if (Interlocked.Increment(ref _failed) <= 3)
                {
                    Console.Error.WriteLine($"\n  submission refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Interlocked.Increment(ref _failed);
        }
    }

    /// <summary>The area's current position and version from GET /api/v1/elections/{id}/areas/{code}.</summary>
    public static async Task<AreaPosition> AreaPositionAsync(HttpClient http, string electionId, string code)
    {
        using var response = await http.GetAsync($"/api/v1/elections/{electionId}/areas/{code}");
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync());
        var root = doc.RootElement;
        return new AreaPosition(root.GetProperty("epoch").GetString()!, root.GetProperty("seq").GetInt64(), root.GetProperty("version").GetInt64());
    }

    /// <summary>
    /// The root's and its children's positions once the root has stopped moving for 2 s (20 s at
    /// most): areas flush a few times a second up the tree, so the last sheets reach the root last.
    /// </summary>
    public static async Task<AreaPosition[]> StableTargetsAsync(HttpClient http, ElectionPlan plan)
    {
        AreaPosition? last = null;
        var stableSince = Stopwatch.StartNew();
        var total = Stopwatch.StartNew();
        while (total.Elapsed < TimeSpan.FromSeconds(20))
        {
            var at = await AreaPositionAsync(http, plan.Id, plan.Election.Root.Code);
            if (at != last)
            {
                last = at;
                stableSince.Restart();
            }
            else if (stableSince.Elapsed > TimeSpan.FromSeconds(2))
            {
                break;
            }

            await Task.Delay(250);
        }

        var children = await Task.WhenAll(plan.Children.Select(c => AreaPositionAsync(http, plan.Id, c.Code)));
        return [last!.Value, .. children];
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Where an area's document is: its epoch and seq (the feed's position) and its version.</summary>
public readonly record struct AreaPosition(string Epoch, long Seq, long Version);
