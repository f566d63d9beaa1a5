using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tprcs.Tests.Gateway;
using Tprcs.Tests.Support;

namespace Tprcs.Tests.Storage;

/// <summary>The production storage: PostgreSQL for the submission log, Redis for membership and PubSubStore.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ProductionStorageTests(PostgresServer postgres, RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Submissions = $"/api/v1/elections/{TestGateway.Election}/submissions";

    [Fact]
    public async Task Two_nodes_clustered_through_Redis_share_one_PostgreSQL_log_and_survive_a_restart()
    {
        var election = "pg" + Guid.NewGuid().ToString("N")[..6];
        var shared = new Dictionary<string, string>
        {
            ["Tprcs:Log:Provider"] = "Postgres",
            ["Tprcs:Log:PostgresConnectionString"] = postgres.ConnectionString,
            ["Tprcs:Cluster:RedisConnectionString"] = redis.ConnectionString,
            ["Tprcs:Cluster:ClusterId"] = election,
        };
        Dictionary<string, string> Node() => new(shared)
        {
            ["Tprcs:Cluster:SiloPort"] = TestGateway.FreePort().ToString(),
            ["Tprcs:Cluster:GatewayPort"] = TestGateway.FreePort().ToString(),
        };

        var unit = Bodies.Unit(1_000);
        var id = Bodies.NewId("pg");
        string before;
        await using (var a = await TestGateway.StartAsync(settings: Node()))
        await using (var b = await TestGateway.StartAsync(settings: Node()))
        {
            var response = await a.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(id, unit));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            before = await b.Http.GetStringAsync($"/api/v1/elections/{TestGateway.Election}/polling-units/{unit}");
            Assert.Contains(JsonNode.Parse(before)!["copies"]!.AsArray(), c => (string?)c!["submissionId"] == id);
        }

        await using var restarted = await TestGateway.StartAsync(settings: Node());
        var after = await restarted.Http.GetStringAsync($"/api/v1/elections/{TestGateway.Election}/polling-units/{unit}");
        Assert.Equal(before, after);
    }
}
