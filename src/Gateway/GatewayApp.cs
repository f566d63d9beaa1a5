using Tprcs.Gateway.Api;
using Tprcs.Gateway.Auth;
using Tprcs.Gateway.Feeds;
using Tprcs.Gateway.Hosting;

namespace Tprcs.Gateway;

/// <summary>The gateway's table of contents; Program.cs runs it, tests start it on real Kestrel.</summary>
public static class GatewayApp
{
    public static WebApplication Create(string[] args)
    {
        // Settings and static files come from beside the binary, so the gateway behaves the same
        // whatever folder it is started from; relative data paths still resolve from that folder.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });

        builder.AddTprcsOrleans();
        builder.AddTprcsGateway();
        builder.AddTprcsAuth();

        var app = builder.Build();

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseWebSockets();
        app.UseTprcsDrain();
        app.UseTprcsStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapTprcsHealth();
        app.MapTprcsApi();
        app.MapTprcsFeeds();
        return app;
    }
}
