using System.Diagnostics;
using System.Net.Sockets;

namespace Tprcs.Tests.Storage;

/// <summary>A throwaway redis-server on a free loopback port, without persistence. Set TPRCS_TEST_REDIS to use an existing one.</summary>
public sealed class RedisServer : IAsyncLifetime
{
    private Process? _process;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("TPRCS_TEST_REDIS") is { Length: > 0 } existing)
        {
            ConnectionString = existing;
            return;
        }

        Assert.True(File.Exists("/usr/bin/redis-server"), "redis-server is not installed (apt-get install redis-server); scripts/test.sh installs it.");
        var port = Support.TestGateway.FreePort();
        var info = new ProcessStartInfo("/usr/bin/redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            info.ArgumentList.Add(a);
        }

        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Wait.UntilAsync(async () =>
        {
            Assert.False(_process.HasExited, "redis-server exited at start");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "redis-server accepting connections");
        ConnectionString = $"127.0.0.1:{port}";
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        _process?.Dispose();
        return Task.CompletedTask;
    }
}
