using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tprcs.Grains.Storage;
using Tprcs.Tests.Cluster;
using Tprcs.Tests.Domain;
using Tprcs.Tests.Support;

namespace Tprcs.Tests.Gateway;

public class DurabilityTests
{
    private const string Submissions = $"/api/v1/elections/{TestGateway.Election}/submissions";

    private static async Task<string> SubmitAsync(HttpClient agent, int n, string prefix)
    {
        var id = $"{prefix}-{n}";
        var response = await agent.PostAsJsonAsync(Submissions, Bodies.Sheet(id, Bodies.Unit(n), apc: 10 + n % 50));
        Assert.True(response.IsSuccessStatusCode, $"{id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return id;
    }

    /// <summary>Every area's document without what legitimately changes across restarts (epoch, seq, time).</summary>
    private static async Task<Dictionary<string, string>> DocumentsAsync(HttpClient http)
    {
        var docs = new Dictionary<string, string>();
        foreach (var area in LogOracle.AllAreas(Sheets.Edo))
        {
            var doc = JsonNode.Parse(await http.GetStringAsync($"/api/v1/elections/{TestGateway.Election}/areas/{area.Code}"))!.AsObject();
            doc.Remove("epoch");
            doc.Remove("seq");
            doc.Remove("updatedAt");
            docs[area.Code] = doc.ToJsonString();
        }

        return docs;
    }

    private static Task ConvergedAsync(HttpClient http, int sheets) =>
        Wait.UntilAsync(async () =>
        {
            var root = JsonNode.Parse(await http.GetStringAsync($"/api/v1/elections/{TestGateway.Election}/areas/ED"))!;
            return (long)root["version"]! == sheets;
        }, TimeSpan.FromSeconds(30), $"the national document counting all {sheets} stored sheets");

    [Fact]
    public async Task Stopping_the_host_and_starting_a_new_one_on_the_same_data_gives_identical_totals()
    {
        var dir = TestGateway.NewDataDirectory();
        Dictionary<string, string> before;
        await using (var first = await TestGateway.StartAsync(dir))
        {
            for (var n = 0; n < 60; n++)
            {
                await SubmitAsync(first.Agent_, n * 7, "restart");
            }

            await ConvergedAsync(first.Http, 60);
            before = await DocumentsAsync(first.Http);
        }

        await using var second = await TestGateway.StartAsync(dir);
        var after = await DocumentsAsync(second.Http);
        foreach (var (code, doc) in before)
        {
            Assert.True(doc == after[code], $"area {code} differs after the restart");
        }
    }

    [Fact]
    public async Task After_kill_9_every_acknowledged_sheet_is_there_and_totals_match_the_log()
    {
        var dir = TestGateway.NewDataDirectory();
        var port = TestGateway.FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        using var agent = new HttpClient { BaseAddress = http.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        agent.DefaultRequestHeaders.Authorization = new("Bearer", TestGateway.AgentToken);

        // Phase 1: a quiet, converged state survives kill -9 exactly.
        var process = await GatewayProcess.StartAsync(dir, port, http);
        for (var n = 0; n < 40; n++)
        {
            await SubmitAsync(agent, n * 5, "k9");
        }

        await ConvergedAsync(http, 40);
        var before = await DocumentsAsync(http);
        process.Kill();

        process = await GatewayProcess.StartAsync(dir, port, http);
        var after = await DocumentsAsync(http);
        foreach (var (code, doc) in before)
        {
            Assert.True(doc == after[code], $"area {code} differs after kill -9 and restart");
        }

        // Phase 2: kill -9 in the middle of an ingest; every acknowledged sheet must survive.
        var acknowledged = new ConcurrentBag<string>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var ingest = Parallel.ForEachAsync(Enumerable.Range(300, 400), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stop.Token }, async (n, ct) =>
        {
            try
            {
                var response = await agent.PostAsJsonAsync(Submissions, Bodies.Sheet($"k9b-{n}", Bodies.Unit(n)), ct);
                if (response.IsSuccessStatusCode)
                {
                    acknowledged.Add($"k9b-{n}");
                    if (acknowledged.Count >= 100)
                    {
                        enough.TrySetResult();
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException)
            {
                // The process is gone: not acknowledged, so nothing is promised.
            }
        });
        await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
        process.Kill();
        await stop.CancelAsync();
        try
        {
            // Either every remaining request already failed against the dead process, or they are cancelled now.
            await ingest.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (OperationCanceledException)
        {
        }

        process = await GatewayProcess.StartAsync(dir, port, http);
        try
        {
            var log = new SqliteSubmissionLog(Options.Create(new SubmissionLogOptions { DataDirectory = dir }), NullLogger<SqliteSubmissionLog>.Instance);
            await using (log)
            {
                var stored = new HashSet<string>();
                await foreach (var row in log.ReadAllAsync(TestGateway.Election))
                {
                    stored.Add(row.SubmissionId);
                }

                var lost = acknowledged.Where(id => !stored.Contains(id)).ToList();
                Assert.True(lost.Count == 0, $"acknowledged but lost: {string.Join(", ", lost)}");

                var expected = await LogOracle.ComputeAsync(log, Sheets.Edo);
                await ConvergedAsync(http, expected.Rows);
                var root = JsonNode.Parse(await http.GetStringAsync($"/api/v1/elections/{TestGateway.Election}/areas/ED"))!;
                Assert.Equal(expected.Areas["ED"].Votes, root["totals"]!["votes"]!.AsArray().Select(v => (long)v!));
                Assert.Equal(expected.Areas["ED"].UnitsCounted, (int)root["totals"]!["units"]!["counted"]!);
            }
        }
        finally
        {
            process.Kill();
        }
    }

    /// <summary>The gateway as a separate OS process (embedded mode), so that it can be killed with SIGKILL.</summary>
    private sealed class GatewayProcess
    {
        private readonly Process _process;

        private GatewayProcess(Process process) => _process = process;

        public static async Task<GatewayProcess> StartAsync(string dataDirectory, int port, HttpClient http)
        {
            var gatewayDll = typeof(Tprcs.Gateway.GatewayApp).Assembly.Location;
            var siloPort = TestGateway.FreePort();
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = dataDirectory,
            };
            foreach (var arg in new[]
            {
                gatewayDll, "--urls", $"http://127.0.0.1:{port}",
                $"--Tprcs:Log:DataDirectory={dataDirectory}",
                $"--Tprcs:Cluster:SiloPort={siloPort}", $"--Tprcs:Cluster:PrimarySiloPort={siloPort}",
                $"--Tprcs:Cluster:GatewayPort={TestGateway.FreePort()}",
                "--Tprcs:Elections:Samples:0=edo", "--Tprcs:Feeds:FlushInterval=00:00:00.050",
                $"--Tprcs:Agents:Tokens:{TestGateway.AgentToken}={TestGateway.Agent}",
                "--Logging:LogLevel:Default=Warning",
            })
            {
                info.ArgumentList.Add(arg);
            }

            var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await Wait.UntilAsync(async () =>
            {
                Assert.False(process.HasExited, $"the gateway process exited with {(process.HasExited ? process.ExitCode : 0)}");
                try
                {
                    return (await http.GetAsync("/readyz")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), "the gateway process becoming ready");
            return new GatewayProcess(process);
        }

        /// <summary>SIGKILL: no shutdown code runs, exactly like kill -9.</summary>
        public void Kill()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(30_000);
            }

            _process.Dispose();
        }
    }
}
