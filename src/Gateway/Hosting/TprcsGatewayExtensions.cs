using Microsoft.Extensions.Options;
using Tprcs.Contracts;
using Tprcs.Gateway.Api;
using Tprcs.Gateway.Feeds;
using Tprcs.Grains;

namespace Tprcs.Gateway.Hosting;

public enum GatewayMode
{
    /// <summary>Co-hosts a silo in this process: one command, no server to install.</summary>
    Embedded = 0,
    /// <summary>An Orleans client of a cluster of separate silo processes.</summary>
    Client = 1,
}

public static class TprcsGatewayExtensions
{
    /// <summary>
    /// Orleans for the gateway (setting <c>Tprcs:Gateway:Mode</c>): Embedded (default) co-hosts a silo
    /// through the one registration call into Grains; Client joins the cluster found through Redis
    /// (<c>Tprcs:Cluster:RedisConnectionString</c>) or, without it, the silos listed in
    /// <c>Tprcs:Cluster:GatewayPorts</c> on localhost.
    /// </summary>
    public static WebApplicationBuilder AddTprcsOrleans(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var mode = config.GetValue("Tprcs:Gateway:Mode", GatewayMode.Embedded);
        if (mode == GatewayMode.Embedded)
        {
            builder.UseOrleans(silo => silo.UseTprcsClustering(config).AddTprcsSilo(config));
        }
        else
        {
            var cluster = config.GetSection("Tprcs:Cluster");
            var serviceId = cluster.GetValue("ServiceId", "tprcs")!;
            var clusterId = cluster.GetValue("ClusterId", "tprcs-local")!;
            builder.UseOrleansClient(client =>
            {
                if (cluster["RedisConnectionString"] is { Length: > 0 } redis)
                {
                    client.Configure<Orleans.Configuration.ClusterOptions>(o => (o.ServiceId, o.ClusterId) = (serviceId, clusterId));
                    client.UseRedisClustering(redis);
                }
                else
                {
                    var ports = cluster.GetSection("GatewayPorts").Get<int[]>() is { Length: > 0 } p ? p : [30000, 30001, 30002];
                    client.UseLocalhostClustering(ports, serviceId, clusterId);
                }

                client.AddMemoryStreams(Keys.StreamProvider);
            });
        }

        return builder;
    }

    /// <summary>The JSON API's serializer context, the election cache and the feed fan-out engine.</summary>
    public static WebApplicationBuilder AddTprcsGateway(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ElectionDirectory>();
        builder.Services.AddOptions<FeedGatewayOptions>().Bind(builder.Configuration.GetSection(FeedGatewayOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<FeedHub>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FeedHub>());
        builder.Services.AddSingleton<GatewayNodeState>();
        builder.Services.AddSingleton<FeedSocketHandler>();
        if (builder.Configuration.GetSection(FeedGatewayOptions.Section).GetValue(nameof(FeedGatewayOptions.DirectWebSockets), true))
        {
            builder.Services.AddSingleton<DirectFeedListener>();
            builder.WebHost.ConfigureKestrel(DirectFeedListener.Register);
        }

        builder.Services.AddHostedService<NodeAnnouncer>();
        // Shutdown waits for the drain: clients leave over the drain window, then the rest are closed.
        var drain = builder.Configuration.GetSection(FeedGatewayOptions.Section).GetValue("DrainWindow", TimeSpan.FromSeconds(10));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(15));
        return builder;
    }

    /// <summary><c>/healthz</c>: the process is alive. <c>/readyz</c>: the cluster answers and has elections loaded.</summary>
    public static IEndpointRouteBuilder MapTprcsHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Text("ok"));
        app.MapGet("/readyz", async (ElectionDirectory elections, CancellationToken cancellationToken) =>
        {
            try
            {
                var all = await elections.ListAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                return all.Length > 0
                    ? TypedResults.Text($"ready: {all.Length} election(s)")
                    : Problems.Unavailable("The cluster answers but has no election loaded.");
            }
            catch (Exception ex) when (ex is TimeoutException or OrleansException)
            {
                return Problems.Unavailable($"The cluster does not answer: {ex.Message}");
            }
        });
        return app;
    }

    /// <summary>On SIGTERM (ApplicationStopping), drain the WebSocket clients before the server stops.</summary>
    public static WebApplication UseTprcsDrain(this WebApplication app)
    {
        var node = app.Services.GetRequiredService<GatewayNodeState>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(() => _ = node.DrainAsync());
        return app;
    }

    public static WebApplication UseTprcsStaticFiles(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles();
        return app;
    }
}
