using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tprcs.Bench;

/// <summary>Starts the gateway (embedded default) as its own process on a fresh data folder.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDirectory;

    private GatewayProcess(Process process, Uri url, string dataDirectory)
    {
        _process = process;
        Url = url;
        _dataDirectory = dataDirectory;
    }

    public Uri Url { get; }
    public int Pid => _process.Id;

    public static string DefaultDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tprcs.sln")))
        {
            dir = dir.Parent;
        }

        return dir is null
            ? throw new FileNotFoundException("Run from inside the repository or pass --gateway-dll.")
            : Path.Combine(dir.FullName, "src", "Gateway", "bin", "Release", "net10.0", "Tprcs.Gateway.dll");
    }

    public static async Task<GatewayProcess> StartAsync(string dll, string shape, IEnumerable<string>? extra = null)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"No gateway at {dll}: run 'dotnet build -c Release src/Gateway' first.");
        }

        var data = Path.Combine(Path.GetTempPath(), "tprcs-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(data);
        var port = FreePort();
        var silo = FreePort();
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            dll, "--urls", $"http://127.0.0.1:{port}", $"--Tprcs:Log:DataDirectory={data}",
            $"--Tprcs:Cluster:SiloPort={silo}", $"--Tprcs:Cluster:PrimarySiloPort={silo}", $"--Tprcs:Cluster:GatewayPort={FreePort()}",
            $"--Tprcs:Elections:Samples:0={shape}", "--Tprcs:Agents:Tokens:bench-token=agent-bench", "--Logging:LogLevel:Default=Warning",
        }.Concat(extra ?? []))
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) Console.Error.WriteLine($"  [gateway] {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) Console.Error.WriteLine($"  [gateway] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var url = new Uri($"http://127.0.0.1:{port}");
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The gateway exited with code {process.ExitCode}.");
            }

            try
            {
                if ((await http.GetAsync("/readyz")).IsSuccessStatusCode)
                {
                    return new GatewayProcess(process, url, data);
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                process.Kill(true);
                throw new TimeoutException("The gateway did not become ready within 120 s.");
            }

            await Task.Delay(200);
        }
    }

    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public long WorkingSetBytes
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
