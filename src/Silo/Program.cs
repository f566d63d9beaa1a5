using Microsoft.Extensions.Hosting;
using Tprcs.Grains;

// A silo process of a TPRCS cluster: several of them on one machine form one cluster
// (README, "A cluster on one machine"). Gateways join as Orleans clients.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});
builder.UseOrleans(silo => silo.UseTprcsClustering(builder.Configuration).AddTprcsSilo(builder.Configuration));
builder.Build().Run();
