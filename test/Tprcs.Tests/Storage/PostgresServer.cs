using System.Diagnostics;

namespace Tprcs.Tests.Storage;

/// <summary>
/// A throwaway PostgreSQL server for tests: initdb into a temporary folder and start it on a free
/// loopback port (run as the 'postgres' user when the tests run as root, as initdb requires).
/// Set TPRCS_TEST_POSTGRES to a connection string to use an existing server instead.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string? _dataDirectory;
    private string? _bin;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("TPRCS_TEST_POSTGRES") is { Length: > 0 } existing)
        {
            ConnectionString = existing;
            return;
        }

        _bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).Order().LastOrDefault()
            : null;
        Assert.True(_bin is not null, "PostgreSQL is not installed (apt-get install postgresql); scripts/test.sh installs it.");
        _dataDirectory = Path.Combine(Path.GetTempPath(), "tprcs-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dataDirectory);
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await RunAsync("chown", "postgres", _dataDirectory);
        }

        var port = Support.TestGateway.FreePort();
        await Pg(asRoot, "initdb", "-D", _dataDirectory, "-A", "trust", "-U", "postgres", "--no-sync");
        await Pg(asRoot, "pg_ctl", "-D", _dataDirectory, "-w", "-t", "60", "-l", Path.Combine(_dataDirectory, "log.txt"),
            "-o", $"-p {port} -k {_dataDirectory} -c listen_addresses=127.0.0.1", "start");
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true";
    }

    public async Task DisposeAsync()
    {
        if (_dataDirectory is not null)
        {
            await Pg(Environment.UserName == "root", "pg_ctl", "-D", _dataDirectory, "-m", "immediate", "stop");
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    private Task Pg(bool asRoot, string tool, params string[] args) =>
        asRoot
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin!, tool), .. args])
            : RunAsync(Path.Combine(_bin!, tool), args);

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await output} {await error}");
    }
}
