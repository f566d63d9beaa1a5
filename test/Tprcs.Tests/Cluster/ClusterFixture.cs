using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Tprcs.Contracts;
using Tprcs.Grains;
using Tprcs.Grains.Elections;
using Tprcs.Grains.Storage;

namespace Tprcs.Tests.Cluster;

/// <summary>A two-silo in-process cluster on the Edo sample with its own SQLite log.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public string DataDirectory { get; } = Support.TestGateway.NewDataDirectory();
    public IClusterClient Client => Cluster.Client;
    public Election Election { get; } = Domain.Sheets.Edo;

    public static InProcessTestCluster Build(string dataDirectory, short silos = 2)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tprcs:Log:DataDirectory"] = dataDirectory,
            ["Tprcs:Elections:Samples:0"] = "edo",
            ["Tprcs:Elections:Files:0"] = MiniElection.WriteTo(dataDirectory),
            ["Tprcs:Feeds:FlushInterval"] = "00:00:00.020",
        }).Build();
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) => silo.AddTprcsSilo(config).AddMemoryGrainStorage("PubSubStore"));
        builder.ConfigureClient(client => client.AddMemoryStreams(Keys.StreamProvider));
        return builder.Build();
    }

    public async Task InitializeAsync()
    {
        Cluster = Build(DataDirectory);
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

public static class ClusterExtensions
{
    public static ISubmissionLog Log(this InProcessTestCluster cluster) =>
        cluster.Silos.First(s => s.IsActive).ServiceProvider.GetRequiredService<ISubmissionLog>();

    public static IPollingUnitGrain Unit(this IGrainFactory grains, string election, string unit) =>
        grains.GetGrain<IPollingUnitGrain>(Keys.Compose(election, unit));

    public static IAreaGrain Area(this IGrainFactory grains, string election, string area) =>
        grains.GetGrain<IAreaGrain>(Keys.Compose(election, area));
}
