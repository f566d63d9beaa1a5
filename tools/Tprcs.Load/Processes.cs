using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tprcs.Load;

/// <summary>A child process of the benchmark (silo, gateway node, SignalR hub): started, watched, killed.</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Verbose child output goes to stderr only with --verbose; warnings and errors always.</summary>
    public static bool Verbose { get; set; }

    public static ChildProcess Start(string name, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[k] = v;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {name}.");
        void Print(string? line)
        {
            if (line is { Length: > 0 } && (Verbose || line.Contains("fail", StringComparison.OrdinalIgnoreCase) || line.Contains("crit", StringComparison.OrdinalIgnoreCase)
                || line.Contains("Unhandled", StringComparison.Ordinal)))
            {
                Console.Error.WriteLine($"  [{name}] {line}");
            }
        }

        process.OutputDataReceived += (_, e) => Print(e.Data);
        process.ErrorDataReceived += (_, e) => Print(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        All.Add(process);
        return new ChildProcess(name, process);
    }

    /// <summary>A process this program did not start (a gateway given by --gateway-pid): measured, never killed.</summary>
    public static ChildProcess Attach(int pid) => new($"pid {pid}", Process.GetProcessById(pid));

    /// <summary>Every process started, so that a failure or Ctrl+C still stops them all.</summary>
    public static List<Process> All { get; } = [];

    public static void KillAll()
    {
        foreach (var p in All.ToArray())
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(true);
                }
            }
            catch (Exception)
            {
                // Gone already.
            }
        }
    }

    /// <summary>Waits until GET url answers 2xx.</summary>
    public async Task WaitReadyAsync(Uri url, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}.");
            }

            try
            {
                if ((await http.GetAsync(url)).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} was not ready at {url} within {timeout.TotalSeconds:N0} s.");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>CPU time (user + system) of the process so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Resident set size in bytes, from /proc/PID/status (VmRSS).</summary>
    public long RssBytes => ReadRss(Pid);

    public static long ReadRss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>SIGKILL: no drain, no close frames, as a crashed node.</summary>
    public void KillHard()
    {
        if (!_process.HasExited)
        {
            _process.Kill(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception)
        {
            // Best effort.
        }

        All.Remove(_process);
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tprcs.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new FileNotFoundException("Run from inside the repository.");
    }
}

/// <summary>
/// A TPRCS cluster of separate processes on loopback (README, "A cluster on one machine"): silos,
/// then gateway nodes in Client mode. Fresh ports, a fresh cluster id and a fresh data folder per run,
/// so that it never meets another cluster running on the same machine.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    private readonly List<ChildProcess> _silos = [];
    private readonly string _data;

    private Cluster(string data) => _data = data;

    public List<(ChildProcess Process, Uri Url)> Gateways { get; } = [];
    public IReadOnlyList<ChildProcess> Silos => _silos;

    public static async Task<Cluster> StartAsync(string sample, int silos, IReadOnlyList<string[]> gatewayExtras, string token)
    {
        var root = ChildProcess.RepoRoot();
        var siloDll = Path.Combine(root, "src", "Silo", "bin", "Release", "net10.0", "Tprcs.Silo.dll");
        var gatewayDll = Path.Combine(root, "src", "Gateway", "bin", "Release", "net10.0", "Tprcs.Gateway.dll");
        foreach (var dll in new[] { siloDll, gatewayDll })
        {
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"{dll} is missing: run 'dotnet build -c Release' first.");
            }
        }

        var data = Path.Combine(Path.GetTempPath(), "tprcs-load-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(data);
        var cluster = new Cluster(data);
        var clusterId = "load-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var siloPorts = Enumerable.Range(0, silos).Select(_ => ChildProcess.FreePort()).ToArray();
            var gatewayPorts = Enumerable.Range(0, silos).Select(_ => ChildProcess.FreePort()).ToArray();
            string[] Common() =>
            [
                $"--Tprcs:Cluster:ClusterId={clusterId}", $"--Tprcs:Elections:Samples:0={sample}", $"--Tprcs:Log:DataDirectory={data}",
                "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Orleans=Error",
            ];
            for (var i = 0; i < silos; i++)
            {
                var silo = ChildProcess.Start($"silo{i + 1}",
                [
                    siloDll, $"--Tprcs:Cluster:SiloPort={siloPorts[i]}", $"--Tprcs:Cluster:GatewayPort={gatewayPorts[i]}",
                    $"--Tprcs:Cluster:PrimarySiloPort={siloPorts[0]}", .. Common(),
                ]);
                cluster._silos.Add(silo);
                if (i == 0)
                {
                    // The primary first: the others join it.
                    await Task.Delay(TimeSpan.FromSeconds(3));
                }
            }

            for (var g = 0; g < gatewayExtras.Count; g++)
            {
                var port = ChildProcess.FreePort();
                var url = new Uri($"http://127.0.0.1:{port}");
                var args = new List<string>
                {
                    gatewayDll, "--Tprcs:Gateway:Mode=Client", "--urls", url.ToString().TrimEnd('/'),
                    $"--Tprcs:Agents:Tokens:{token}=agent-load",
                };
                args.AddRange(Common());
                for (var i = 0; i < gatewayPorts.Length; i++)
                {
                    args.Add($"--Tprcs:Cluster:GatewayPorts:{i}={gatewayPorts[i]}");
                }

                args.AddRange(gatewayExtras[g]);
                cluster.Gateways.Add((ChildProcess.Start($"gateway{g + 1}", args, GatewayEnvironment()), url));
            }

            foreach (var (process, url) in cluster.Gateways)
            {
                await process.WaitReadyAsync(new Uri(url, "/readyz"), TimeSpan.FromSeconds(180));
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Environment of the measured servers (gateway nodes and the SignalR hub alike): workstation GC,
    /// as the README and docker-compose.yml run gateway nodes in Client mode; then anything in
    /// TPRCS_LOAD_GATEWAY_ENV ("NAME=value;NAME=value"), to compare runtime settings.
    /// </summary>
    public static Dictionary<string, string> GatewayEnvironment()
    {
        var environment = new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" };
        foreach (var pair in (Environment.GetEnvironmentVariable("TPRCS_LOAD_GATEWAY_ENV") ?? "")
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (pair.Split('=', 2) is [var name, var value])
            {
                environment[name] = value;
            }
        }

        return environment;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (process, _) in Gateways)
        {
            await process.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
