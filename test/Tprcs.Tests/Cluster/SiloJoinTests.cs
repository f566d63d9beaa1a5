using Orleans.Runtime;
using Tprcs.Contracts;
using Tprcs.Tests.Domain;

namespace Tprcs.Tests.Cluster;

public class SiloJoinTests
{
    [Fact]
    public async Task A_silo_started_while_the_cluster_runs_joins_and_takes_new_activations()
    {
        var cluster = ClusterFixture.Build(Support.TestGateway.NewDataDirectory(), silos: 2);
        await cluster.DeployAsync();
        try
        {
            var election = Sheets.Edo;
            var units = LogOracle.AllUnits(election).ToArray();
            var gen = new SheetGenerator(election, 3);
            async Task SubmitAsync(int from, int count) =>
                await Task.WhenAll(units.Skip(from).Take(count).Select((u, i) => cluster.Client.Unit(election.Id, u.Code)
                    .Submit(new SubmitSheet($"join-{from + i}", election.Id, u.Code, "agent-1", gen.Good(u), null, null, null, null, null, null))));

            await SubmitAsync(0, 100);
            var joined = await cluster.StartAdditionalSiloAsync();
            await cluster.WaitForLivenessToStabilizeAsync();
            await SubmitAsync(100, 400);

            var stats = await cluster.Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
            var onNewSilo = stats.Where(s => s.SiloAddress.Equals(joined.SiloAddress) && s.GrainType.Contains("PollingUnitGrain")).Sum(s => s.ActivationCount);
            Assert.True(onNewSilo > 0, $"no polling unit was activated on the silo that joined ({joined.SiloAddress})");

            var root = cluster.Client.Area(election.Id, election.Root.Code);
            await Wait.UntilAsync(async () => (await root.GetReport()).Version == 500, TimeSpan.FromSeconds(30),
                "the state counting all 500 sheets across the three silos");
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
