using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace Tprcs.Load;

/// <summary>
/// The baseline of item 10: a minimal ASP.NET Core SignalR hub, run as its own process (this
/// program with "signalr-hub"), that broadcasts the same updates as the TPRCS run (the recorded
/// delta JSON, same sizes, same timing) to groups named after the feeds, each as
/// <c>delta(sentAtUs, delta)</c>: the time of sending goes first and stands for the delta's updatedAt.
/// </summary>
public static class SignalRHubServer
{
    public sealed class FeedsHub : Hub
    {
        public override async Task OnConnectedAsync()
        {
            var feeds = Context.GetHttpContext()?.Request.Query["feeds"].ToString() ?? "";
            foreach (var feed in feeds.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                await Groups.AddToGroupAsync(Context.ConnectionId, feed);
            }

            await base.OnConnectedAsync();
        }
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var a = new Args(args);
        var recording = a.Get("--recording") ?? throw new ArgumentException("--recording FILE");
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(a.Get("--urls", "http://127.0.0.1:5099"));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSignalR();
        var app = builder.Build();
        app.UseWebSockets();
        app.MapHub<FeedsHub>("/hub", o => o.Transports = HttpTransportType.WebSockets);
        app.MapGet("/ready", () => "ok");
        // Each delta is parsed once here: sending it costs the hub what SignalR itself does with it.
        var updates = File.ReadAllLines(recording).Select(line =>
        {
            var parts = line.Split('\t', 3);
            using var document = JsonDocument.Parse(parts[2]);
            return (Offset: long.Parse(parts[0], CultureInfo.InvariantCulture), Feed: parts[1], Delta: document.RootElement.Clone());
        }).ToArray();
        var sent = 0;
        app.MapPost("/replay", (IHubContext<FeedsHub> hub) =>
        {
            _ = Task.Run(async () =>
            {
                var start = UpdateTracker.NowUs();
                foreach (var u in updates)
                {
                    var wait = start + u.Offset - UpdateTracker.NowUs();
                    if (wait > 1000)
                    {
                        await Task.Delay(TimeSpan.FromMicroseconds(wait));
                    }

                    // The recorded document, with the time of sending first: the latency is measured from here.
                    await hub.Clients.Group(u.Feed).SendAsync("delta", UpdateTracker.NowUs(), u.Delta);
                    Interlocked.Increment(ref sent);
                }
            });
            return Results.Ok(new { updates = updates.Length });
        });
        app.MapGet("/sent", () => Volatile.Read(ref sent));
        await app.RunAsync();
        return 0;
    }

    /// <summary>Writes the recorded updates (offset from the first one in µs, feed, JSON) for the hub.</summary>
    public static string WriteRecording(IEnumerable<RecordedUpdate> updates)
    {
        var ordered = updates.OrderBy(u => u.UpdatedAtUs).ThenBy(u => u.Seq).ToList();
        var path = Path.Combine(Path.GetTempPath(), $"tprcs-load-recording-{Guid.NewGuid():N}.tsv");
        var first = ordered.Count > 0 ? ordered[0].UpdatedAtUs : 0;
        File.WriteAllLines(path, ordered.Select(u => $"{u.UpdatedAtUs - first}\t{u.Feed}\t{Encoding.UTF8.GetString(u.Payload)}"));
        return path;
    }
}

/// <summary>One SignalR client (Microsoft.AspNetCore.SignalR.Client, WebSockets, no negotiation round trip) in the feeds' groups.</summary>
public sealed class SignalRFeedClient
{
    private readonly UpdateTracker _tracker;
    private readonly string[] _feeds;
    private readonly int[] _feedIndex;
    private readonly long[] _seq;
    private readonly HubConnection _connection;

    public SignalRFeedClient(UpdateTracker tracker, Uri hub, string[] feeds)
    {
        _tracker = tracker;
        _feeds = feeds;
        _feedIndex = feeds.Select(tracker.FeedIndex).ToArray();
        _seq = feeds.Select(_ => -1L).ToArray();
        var url = new Uri(hub, "/hub?feeds=" + Uri.EscapeDataString(string.Join(',', feeds)));
        _connection = new HubConnectionBuilder()
            .WithUrl(url, o =>
            {
                o.SkipNegotiation = true;
                o.Transports = HttpTransportType.WebSockets;
            })
            .Build();
        _connection.On<long, JsonElement>("delta", OnDelta);
    }

    public int Gaps { get; private set; }
    public long Deltas { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken) => _connection.StartAsync(cancellationToken);

    private void OnDelta(long sentAtUs, JsonElement delta)
    {
        Deltas++;
        var feed = delta.GetProperty("feed").GetString();
        var i = Array.IndexOf(_feeds, feed);
        if (i < 0)
        {
            return;
        }

        var seq = delta.GetProperty("seq").GetInt64();
        if (_seq[i] >= 0 && seq != _seq[i] + 1)
        {
            Gaps++;
        }

        _seq[i] = seq;
        _tracker.Delivered(_feedIndex[i], feed!, seq, sentAtUs, default);
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
