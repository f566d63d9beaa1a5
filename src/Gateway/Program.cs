using Tprcs.Gateway.Api;
using Tprcs.Gateway.Auth;
using Tprcs.Gateway.Feeds;
using Tprcs.Gateway.Hosting;

var builder = WebApplication.CreateBuilder(args);

builder.AddTprcsOrleans();
builder.AddTprcsGateway();
builder.AddTprcsAuth();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseWebSockets();
app.UseTprcsStaticFiles();
app.UseAuthentication();
app.UseAuthorization();

app.MapTprcsHealth();
app.MapTprcsApi();
app.MapTprcsFeeds();

app.Run();

/// <summary>Entry point, visible to tests that host the gateway on real Kestrel.</summary>
public partial class Program;
