using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tprcs.Contracts;
using Tprcs.Grains.Elections;
using Tprcs.Grains.Storage;

namespace Tprcs.Grains;

/// <summary>Elections to load on every silo (section <c>Tprcs:Elections</c>). All silos of a cluster must load the same ones.</summary>
public sealed class ElectionsOptions
{
    public const string Section = "Tprcs:Elections";

    /// <summary>Election definition files (JSON, docs/elections.md). Relative paths are taken from the working directory. Default: none.</summary>
    public List<string> Files { get; set; } = [];

    /// <summary>
    /// Built-in synthetic elections to generate at start: <c>edo</c>, <c>nigeria</c>. Default: none;
    /// but when neither files nor samples are configured, <c>edo</c> is loaded so that a bare silo is useful.
    /// </summary>
    public List<string> Samples { get; set; } = [];
}

public static class TprcsSiloExtensions
{
    /// <summary>
    /// Everything a TPRCS silo needs besides clustering: the elections, the submission log, the feed
    /// stream provider, and the options, validated at start.
    /// </summary>
    /// <summary>
    /// Clustering (section <c>Tprcs:Cluster</c>). Without <c>RedisConnectionString</c>: localhost
    /// clustering, several silo processes on one machine, the one on <c>PrimarySiloPort</c> acting
    /// as the membership primary. With it: membership and the streams' PubSubStore in Redis, for
    /// silos on several hosts (each advertising <c>AdvertisedAddress</c>, default loopback).
    /// </summary>
    public static ISiloBuilder UseTprcsClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        var cluster = configuration.GetSection("Tprcs:Cluster");
        var siloPort = cluster.GetValue("SiloPort", 11111);
        var gatewayPort = cluster.GetValue("GatewayPort", 30000);
        var serviceId = cluster.GetValue("ServiceId", "tprcs")!;
        var clusterId = cluster.GetValue("ClusterId", "tprcs-local")!;
        if (cluster["RedisConnectionString"] is { Length: > 0 } redis)
        {
            var address = System.Net.IPAddress.Parse(cluster.GetValue("AdvertisedAddress", "127.0.0.1")!);
            silo.Configure<Orleans.Configuration.ClusterOptions>(o => (o.ServiceId, o.ClusterId) = (serviceId, clusterId));
            silo.ConfigureEndpoints(address, siloPort, gatewayPort);
            silo.UseRedisClustering(redis);
            silo.AddRedisGrainStorage("PubSubStore", o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis));
            return silo;
        }

        var primary = cluster.GetValue("PrimarySiloPort", 11111);
        silo.UseLocalhostClustering(siloPort, gatewayPort,
            siloPort == primary ? null : new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, primary), serviceId, clusterId);
        silo.AddMemoryGrainStorage("PubSubStore");
        return silo;
    }

    public static ISiloBuilder AddTprcsSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddOptions<ElectionsOptions>().Bind(configuration.GetSection(ElectionsOptions.Section));
        services.AddOptions<SubmissionLogOptions>().Bind(configuration.GetSection(SubmissionLogOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<FeedOptions>().Bind(configuration.GetSection(FeedOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => LoadCatalog(sp.GetRequiredService<IOptions<ElectionsOptions>>().Value));
        services.TryAddSingleton<ISubmissionLog>(sp =>
            sp.GetRequiredService<IOptions<SubmissionLogOptions>>().Value.Provider == SubmissionLogProvider.Postgres
                ? ActivatorUtilities.CreateInstance<PostgresSubmissionLog>(sp)
                : ActivatorUtilities.CreateInstance<SqliteSubmissionLog>(sp));
        // Resolved at start, not on first use: a broken definition or an unwritable log stops the silo
        // with a message instead of failing the first request.
        services.AddHostedService<StartupChecks>();

        // The stream provider's PubSubStore comes with the clustering (UseTprcsClustering).
        silo.AddMemoryStreams(Keys.StreamProvider, streams => streams.ConfigurePullingAgent(agent =>
            agent.Configure<IOptions<FeedOptions>>((pulling, feeds) => pulling.GetQueueMsgsTimerPeriod = feeds.Value.StreamPollInterval)));
        return silo;
    }

    /// <summary>Loads every configured election; a broken definition stops the silo with the loader's message.</summary>
    public static ElectionCatalog LoadCatalog(ElectionsOptions options)
    {
        var catalog = new ElectionCatalog();
        var files = options.Files.Where(f => !string.IsNullOrWhiteSpace(f)).Distinct().ToList();
        var samples = options.Samples.Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s.Trim().ToLowerInvariant()).Distinct().ToList();
        if (files.Count == 0 && samples.Count == 0)
        {
            samples.Add("edo");
        }

        foreach (var sample in samples)
        {
            var definition = sample switch
            {
                "edo" => ElectionGenerator.Edo(),
                "nigeria" => ElectionGenerator.Nigeria(),
                var other => throw new OptionsValidationException(ElectionsOptions.Section, typeof(ElectionsOptions),
                    [$"Tprcs:Elections:Samples: unknown sample '{other}' (known: edo, nigeria)."]),
            };
            catalog.Add(ElectionLoader.Load(definition));
        }

        foreach (var file in files)
        {
            catalog.Add(ElectionLoader.LoadFile(file));
        }

        return catalog;
    }
}

internal sealed class StartupChecks(ElectionCatalog catalog, ISubmissionLog log) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        catalog.All.Count > 0 && log is not null ? Task.CompletedTask : throw new InvalidOperationException("No election is loaded.");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
