using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Tprcs.Tests.Support;

namespace Tprcs.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public class HttpApiTests(GatewayFixture fixture)
{
    private TestGateway G => fixture.Gateway;
    private const string Submissions = $"/api/v1/elections/{TestGateway.Election}/submissions";

    private static async Task<JsonObject> Json(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

    private static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode status, string field, string rule)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonNode.Parse(body)!["errors"]!.AsArray();
        Assert.Contains(errors, e => (string?)e!["field"] == field && (string?)e["rule"] == rule);
    }

    [Fact]
    public async Task A_sheet_is_created_then_replayed_then_conflicts_with_another_body()
    {
        var id = Bodies.NewId("api");
        var unit = Bodies.Unit(10);
        var created = await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(id, unit));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var receipt = await Json(created);
        Assert.Equal((id, unit, true, "counted"), ((string?)receipt["submissionId"], (string?)receipt["pollingUnit"], (bool)receipt["counted"]!, (string?)receipt["unitStatus"]));
        Assert.EndsWith($"/polling-units/{unit}", created.Headers.Location!.ToString());

        var replay = await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(id, unit));
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(receipt.ToJsonString(), (await Json(replay)).ToJsonString());

        await AssertProblem(await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(id, unit, apc: 1)), HttpStatusCode.Conflict, "submissionId", "idempotency");
    }

    [Fact]
    public async Task A_flagged_sheet_is_stored_as_evidence_but_not_counted()
    {
        var unit = Bodies.Unit(11);
        var response = await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("flag"), unit, accredited: 20));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var receipt = await Json(response);
        Assert.False((bool)receipt["counted"]!);
        Assert.Equal("cancelled", (string?)receipt["unitStatus"]);
        Assert.Contains("over-voting", receipt["flags"]!.AsArray().Select(f => (string?)f));

        var view = await Json(await G.Http.GetAsync($"/api/v1/elections/{TestGateway.Election}/polling-units/{unit}"));
        Assert.Equal("cancelled", (string?)view["status"]);
        var copy = Assert.Single(view["copies"]!.AsArray());
        Assert.Equal(TestGateway.Agent, (string?)copy!["agent"]);
        Assert.Equal(20, (int)copy["sheet"]!["accreditedVoters"]!);
    }

    [Fact]
    public async Task Without_a_valid_bearer_token_nothing_is_stored()
    {
        var unit = Bodies.Unit(12);
        await AssertProblem(await G.Http.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("anon"), unit)), HttpStatusCode.Unauthorized, "authorization", "bearer-token");
        using var wrong = new HttpRequestMessage(HttpMethod.Post, Submissions) { Content = JsonContent.Create(Bodies.Sheet(Bodies.NewId("bad"), unit)) };
        wrong.Headers.Authorization = new("Bearer", "not-a-token");
        await AssertProblem(await G.Http.SendAsync(wrong), HttpStatusCode.Unauthorized, "authorization", "bearer-token");
        var view = await Json(await G.Http.GetAsync($"/api/v1/elections/{TestGateway.Election}/polling-units/{unit}"));
        Assert.Equal(0, (int)view["version"]!);
    }

    [Fact]
    public async Task Malformed_input_is_refused_naming_the_field_and_the_rule()
    {
        var unit = Bodies.Unit(13);
        var notJson = new StringContent("{\"submissionId\": \"x\", \"accreditedVoters\": \"lots\"}", Encoding.UTF8, "application/json");
        await AssertProblem(await G.Agent_.PostAsync(Submissions, notJson), HttpStatusCode.BadRequest, "accreditedVoters", "json");

        await AssertProblem(await G.Agent_.PostAsJsonAsync(Submissions, new { submissionId = "m1", pollingUnit = unit }),
            HttpStatusCode.UnprocessableEntity, "accreditedVoters", "required");

        var unknownParty = new
        {
            submissionId = Bodies.NewId("party"), pollingUnit = unit, accreditedVoters = 100, rejected = 0,
            votes = new Dictionary<string, int> { ["NOPE"] = 10 }, totalValid = 10, totalCast = 10,
        };
        await AssertProblem(await G.Agent_.PostAsJsonAsync(Submissions, unknownParty), HttpStatusCode.UnprocessableEntity, "votes.NOPE", "unknown-party");
        await AssertProblem(await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("neg"), unit, rejected: -1)),
            HttpStatusCode.UnprocessableEntity, "rejected", "non-negative");
        await AssertProblem(await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("unit"), "ED/99/99/999")),
            HttpStatusCode.UnprocessableEntity, "pollingUnit", "unknown-unit");
        await AssertProblem(await G.Agent_.PostAsJsonAsync("/api/v1/elections/nope/submissions", Bodies.Sheet(Bodies.NewId("el"), unit)),
            HttpStatusCode.NotFound, "electionId", "exists");
        var huge = new StringContent(new string(' ', 70_000) + "{}", Encoding.UTF8, "application/json");
        await AssertProblem(await G.Agent_.PostAsync(Submissions, huge), HttpStatusCode.RequestEntityTooLarge, "body", "size");

        var view = await Json(await G.Http.GetAsync($"/api/v1/elections/{TestGateway.Election}/polling-units/{unit}"));
        Assert.Equal(0, (int)view["version"]!);
    }

    [Fact]
    public async Task An_amendment_replaces_a_version_and_a_second_one_of_the_same_version_conflicts()
    {
        var unit = Bodies.Unit(14);
        Assert.Equal(HttpStatusCode.Created, (await G.Agent_.PostAsJsonAsync(Submissions, Bodies.Sheet(Bodies.NewId("v1"), unit, apc: 50))).StatusCode);
        var amendment = new
        {
            submissionId = Bodies.NewId("v2"), pollingUnit = unit, accreditedVoters = 200, rejected = 5,
            votes = new Dictionary<string, int> { ["APC"] = 60, ["PDP"] = 80 }, totalValid = 140, totalCast = 145,
            amends = new { version = 1, reason = "APC misread" },
        };
        var response = await G.Agent_.PostAsJsonAsync(Submissions, amendment);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(1, (int)(await Json(response))["replaces"]!);
        var again = new { amendment.submissionId, amendment.pollingUnit, amendment.accreditedVoters, amendment.rejected, amendment.votes, amendment.totalValid, amendment.totalCast, amendment.amends };
        await AssertProblem(await G.Agent_.PostAsJsonAsync(Submissions, again with { submissionId = Bodies.NewId("v3") }),
            HttpStatusCode.Conflict, "amends.version", "amendment-target");

        var view = await Json(await G.Http.GetAsync($"/api/v1/elections/{TestGateway.Election}/polling-units/{unit}"));
        Assert.Equal(60, (int)view["result"]!["votes"]!["APC"]!);
        Assert.Equal(2, (int)view["copies"]![0]!["replacedBy"]!);
    }

    [Fact]
    public async Task Elections_areas_and_health_are_served()
    {
        Assert.Equal("ok", await G.Http.GetStringAsync("/healthz"));
        Assert.StartsWith("ready", await G.Http.GetStringAsync("/readyz"));

        var elections = JsonNode.Parse(await G.Http.GetStringAsync("/api/v1/elections"))!.AsArray();
        var edo = elections.Single(e => (string?)e!["id"] == TestGateway.Election)!;
        Assert.Equal(4519, (int)edo["pollingUnits"]!);
        Assert.Equal(["state", "lga", "ward", "polling-unit"], edo["levels"]!.AsArray().Select(l => (string)l!));

        var root = await Json(await G.Http.GetAsync($"/api/v1/elections/{TestGateway.Election}/areas/ED"));
        Assert.Equal(18, root["rows"]!.AsArray().Count);
        Assert.Equal(2_629_025, (long)root["totals"]!["registeredVoters"]!);
        Assert.False(string.IsNullOrEmpty((string?)root["epoch"]));

        var unknown = await G.Http.GetAsync($"/api/v1/elections/{TestGateway.Election}/areas/ED/77");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }
}
