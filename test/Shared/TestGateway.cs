using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Tprcs.Gateway;

namespace Tprcs.Tests.Support;

/// <summary>
/// The real gateway (embedded mode: co-hosted silo, SQLite log) on real Kestrel on a free loopback
/// port, with its own data folder and cluster ports so that several can run side by side.
/// </summary>
public sealed class TestGateway : IAsyncDisposable
{
    public const string AgentToken = "test-agent-token";
    public const string Agent = "agent-test";
    public const string Election = "edo-2024-gov";

    private readonly WebApplication _app;

    private TestGateway(WebApplication app, Uri baseAddress, string dataDirectory, IReadOnlyDictionary<string, string> settings)
    {
        _app = app;
        Settings = settings;
        BaseAddress = baseAddress;
        DataDirectory = dataDirectory;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Agent_ = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Agent_.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AgentToken);
    }

    public Uri BaseAddress { get; }
    public Uri WebSocketUri => new UriBuilder(BaseAddress) { Scheme = "ws", Path = "/ws" }.Uri;
    public string DataDirectory { get; }

    /// <summary>The settings it was started with (cluster ports and id among them).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>Settings for another embedded gateway joining this one's cluster as a second silo and node.</summary>
    public Dictionary<string, string> JoinSettings()
    {
        var silo = FreePort();
        return new Dictionary<string, string>
        {
            ["Tprcs:Cluster:SiloPort"] = silo.ToString(),
            ["Tprcs:Cluster:PrimarySiloPort"] = Settings["Tprcs:Cluster:PrimarySiloPort"],
            ["Tprcs:Cluster:ClusterId"] = Settings["Tprcs:Cluster:ClusterId"],
        };
    }
    public IServiceProvider Services => _app.Services;

    /// <summary>Anonymous client (observers).</summary>
    public HttpClient Http { get; }

    /// <summary>Client authenticated as <see cref="Agent"/>.</summary>
    public HttpClient Agent_ { get; }

    public static string NewDataDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "tprcs-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static async Task<TestGateway> StartAsync(string? dataDirectory = null, IDictionary<string, string>? settings = null)
    {
        dataDirectory ??= NewDataDirectory();
        var siloPort = FreePort();
        var all = new Dictionary<string, string>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Tprcs:Gateway:Mode"] = "Embedded",
            ["Tprcs:Log:DataDirectory"] = dataDirectory,
            ["Tprcs:Cluster:SiloPort"] = siloPort.ToString(),
            ["Tprcs:Cluster:PrimarySiloPort"] = siloPort.ToString(),
            ["Tprcs:Cluster:GatewayPort"] = FreePort().ToString(),
            ["Tprcs:Cluster:ClusterId"] = "test-" + Guid.NewGuid().ToString("N")[..8],
            ["Tprcs:Elections:Samples:0"] = "edo",
            ["Tprcs:Feeds:FlushInterval"] = "00:00:00.050",
            ["Tprcs:Feeds:Gateway:DrainWindow"] = "00:00:00.500",
            [$"Tprcs:Agents:Tokens:{AgentToken}"] = Agent,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            all[k] = v;
        }

        var app = GatewayApp.Create(all.Select(kv => $"--{kv.Key}={kv.Value}").ToArray());
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestGateway(app, new Uri(address), dataDirectory, all);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Agent_.Dispose();
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await _app.DisposeAsync();
    }
}
