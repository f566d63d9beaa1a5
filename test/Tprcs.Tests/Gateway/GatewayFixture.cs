using Tprcs.Tests.Support;

namespace Tprcs.Tests.Gateway;

/// <summary>One embedded gateway on real Kestrel shared by a collection of HTTP and WebSocket tests.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public TestGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync() => Gateway = await TestGateway.StartAsync();

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "gateway";
}

public static class Bodies
{
    private static int _next;

    /// <summary>The n-th polling unit of the Edo sample with at least 300 registered voters (stable across runs).</summary>
    public static string Unit(int n) =>
        Cluster.LogOracle.AllUnits(Domain.Sheets.Edo).Where(u => u.RegisteredVoters >= 300).ElementAt(n).Code;

    public static string NewId(string prefix) => $"{prefix}-{Interlocked.Increment(ref _next)}-{Guid.NewGuid():N}";

    public static object Sheet(string id, string unit, int apc = 100, int pdp = 80, int rejected = 5, int accredited = 200) => new
    {
        submissionId = id,
        pollingUnit = unit,
        accreditedVoters = accredited,
        rejected,
        votes = new Dictionary<string, int> { ["APC"] = apc, ["PDP"] = pdp },
        totalValid = apc + pdp,
        totalCast = apc + pdp + rejected,
    };
}
