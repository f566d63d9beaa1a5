using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Tprcs.BrowserTests.Support;
using Tprcs.Tests.Support;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Tprcs.BrowserTests;

public sealed class FormTests(BrowserSession session, ITestOutputHelper output) : IClassFixture<BrowserSession>, IAsyncLifetime
{
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task The_agent_form_refuses_a_sheet_that_breaks_a_rule_and_accepts_a_good_one_retrying_with_the_same_id()
    {
        const string unit = "ED/06/02/003";
        var (context, page) = await session.OpenAsync(output, 420, 900);
        await using var _ = context;
        await page.GotoAsync(new Uri(_gateway.BaseAddress, "/#/submit").ToString());
        await page.Locator("#token").FillAsync(TestGateway.AgentToken);
        await page.Locator("#unit").FillAsync(unit);
        await Browsing.Expecting("the unit to be looked up", () => Expect(page.Locator("#unit-info")).ToContainTextAsync("registered voters"));

        // Party votes add up to 180, but total valid says 190: rule 4.
        await page.Locator("#accreditedVoters").FillAsync("200");
        await page.Locator("#rejected").FillAsync("5");
        await page.Locator("#votes-APC").FillAsync("100");
        await page.Locator("#votes-PDP").FillAsync("80");
        await page.Locator("#totalValid").FillAsync("190");
        await page.Locator("#totalCast").FillAsync("195");
        await Browsing.Expecting("rule 4 shown as broken before sending", () =>
            Expect(page.Locator("#checks li[data-rule='4']")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("warn")));
        await page.Locator("#send").ClickAsync();
        await Browsing.Expecting("the form to refuse the sheet", () =>
            Expect(page.Locator("#outcome")).ToHaveAttributeAsync("data-kind", "refused"));
        await page.ScreenshotAsync("form-refused", output);
        Assert.Empty((await UnitAsync(unit)).GetProperty("copies").EnumerateArray());

        // A negative figure is malformed (rule 11): refused too.
        await page.Locator("#votes-LP").FillAsync("-3");
        await page.Locator("#send").ClickAsync();
        await Browsing.Expecting("the form to refuse a negative figure naming the field", async () =>
        {
            await Expect(page.Locator("#outcome")).ToHaveAttributeAsync("data-kind", "refused");
            await Expect(page.Locator("#outcome")).ToContainTextAsync("votes.LP");
        });

        // Fixed: the party votes now add up. The first POST is cut by a network error; the form
        // retries with the same submissionId and the unit ends up with exactly one copy.
        await page.Locator("#votes-LP").FillAsync("10");
        await Browsing.Expecting("all checks passing", () =>
            Expect(page.Locator("#checks li.warn, #checks li.error")).ToHaveCountAsync(0));
        var posts = new List<string>();
        await page.RouteAsync("**/submissions", async route =>
        {
            posts.Add(route.Request.PostData ?? "");
            if (posts.Count == 1)
            {
                await route.AbortAsync("connectionreset");
            }
            else
            {
                await route.ContinueAsync();
            }
        });
        await page.Locator("#send").ClickAsync();
        await Browsing.Expecting("a receipt for version 1, counted", async () =>
        {
            await Expect(page.Locator("#outcome")).ToHaveAttributeAsync("data-kind", "ok", new() { Timeout = 20_000 });
            await Expect(page.Locator("[data-receipt=Version]")).ToHaveTextAsync("1");
            await Expect(page.Locator("[data-receipt=Counted]")).ToHaveTextAsync("yes");
        });
        await page.ScreenshotAsync("form-receipt", output);

        Assert.Equal(2, posts.Count);
        var ids = posts.Select(p => JsonDocument.Parse(p).RootElement.GetProperty("submissionId").GetString()).ToArray();
        Assert.Equal(ids[0], ids[1]);
        Assert.True(Guid.TryParse(ids[0], out var _), $"submissionId '{ids[0]}' is not a UUID");
        var copies = (await UnitAsync(unit)).GetProperty("copies").EnumerateArray().ToArray();
        Assert.Single(copies);
        Assert.Equal(ids[0], copies[0].GetProperty("submissionId").GetString());
        Assert.Equal(TestGateway.AgentToken, await page.EvaluateAsync<string>("() => sessionStorage.getItem('tprcs.agentToken')"));
    }

    private async Task<JsonElement> UnitAsync(string unit) =>
        await _gateway.Http.GetFromJsonAsync<JsonElement>($"/api/v1/elections/{TestGateway.Election}/polling-units/{unit}");
}
