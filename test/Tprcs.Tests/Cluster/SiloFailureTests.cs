using System.Collections.Concurrent;
using Tprcs.Contracts;
using Tprcs.Tests.Domain;

namespace Tprcs.Tests.Cluster;

public class SiloFailureTests
{
    [Fact]
    public async Task A_silo_killed_mid_ingest_loses_no_acknowledged_sheet_and_totals_converge()
    {
        var dir = Support.TestGateway.NewDataDirectory();
        var cluster = ClusterFixture.Build(dir, silos: 3);
        await cluster.DeployAsync();
        try
        {
            var election = Sheets.Edo;
            var client = cluster.Client;
            var units = LogOracle.AllUnits(election).Take(900).ToArray();
            var acknowledged = new ConcurrentDictionary<string, SubmissionReceipt>();
            var killAfter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var victim = cluster.Silos[1];

            var ingest = Parallel.ForEachAsync(units.Select((u, i) => (u, i)), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (item, _) =>
            {
                var (unit, i) = item;
                var gen = new SheetGenerator(election, i);
                var command = new SubmitSheet($"kill-{i}", election.Id, unit.Code, "agent-1", gen.Good(unit), null, null, null, null, null, null);
                // An agent retries with the same submission id until it gets an answer.
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        var outcome = await client.Unit(election.Id, unit.Code).Submit(command);
                        Assert.True(outcome.Kind is SubmitOutcomeKind.Created or SubmitOutcomeKind.Replayed, $"{command.SubmissionId}: {outcome.Kind}");
                        acknowledged[command.SubmissionId] = outcome.Receipt!;
                        if (acknowledged.Count == 300)
                        {
                            killAfter.TrySetResult();
                        }

                        return;
                    }
                    catch (Exception ex) when (ex is not Xunit.Sdk.XunitException && attempt < 50)
                    {
                        await Task.Delay(100);
                    }
                }
            });

            await killAfter.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await cluster.KillSiloAsync(victim);
            await ingest.WaitAsync(TimeSpan.FromSeconds(180));

            Assert.Equal(units.Length, acknowledged.Count);
            var log = cluster.Log();
            var stored = new HashSet<string>();
            await foreach (var row in log.ReadAllAsync(election.Id))
            {
                stored.Add(row.SubmissionId);
            }

            var lost = acknowledged.Keys.Where(id => !stored.Contains(id)).ToList();
            Assert.True(lost.Count == 0, $"acknowledged but not in the log: {string.Join(", ", lost)}");

            // Reports lost with the silo are repaired by reconciliation, which re-reads the log.
            var root = client.Area(election.Id, election.Root.Code);
            await root.Reconcile(deep: true);
            var expected = await LogOracle.ComputeAsync(log, election);
            Assert.Equal(units.Length, expected.Rows);
            await Wait.UntilAsync(async () => (await root.GetReport()).Version == expected.Rows, TimeSpan.FromSeconds(60),
                "the national total converging on every stored sheet after the kill");
            foreach (var area in LogOracle.AllAreas(election))
            {
                LogOracle.AssertMatches(expected, election, await client.Area(election.Id, area.Code).GetSnapshot());
            }
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
