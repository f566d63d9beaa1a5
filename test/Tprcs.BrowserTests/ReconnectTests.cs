using Microsoft.Playwright;
using Tprcs.BrowserTests.Support;
using Tprcs.Tests.Support;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Tprcs.BrowserTests;

public sealed class ReconnectTests(BrowserSession session, ITestOutputHelper output) : IClassFixture<BrowserSession>
{
    [Fact]
    public async Task A_gateway_restarted_under_an_open_page_shows_reconnecting_then_the_exact_totals()
    {
        var dataDirectory = TestGateway.NewDataDirectory();
        var port = TestGateway.FreePort();
        var settings = new Dictionary<string, string> { ["urls"] = $"http://127.0.0.1:{port}" };
        var gateway = await TestGateway.StartAsync(dataDirectory, settings);
        try
        {
            await Sheets.SubmitAsync(gateway, Sheets.Unit(7, 1, 1), 20, 10, 2);
            await Sheets.SubmitAsync(gateway, Sheets.Unit(8, 2, 2), 15, 20, 1);

            var (context, page) = await session.OpenAsync(output);
            await using var _ = context;
            await page.GotoAsync(new Uri(gateway.BaseAddress, "/#/edo-2024-gov").ToString());
            await Browsing.Expecting("the root page live with APC 35 / PDP 30 / LP 3", async () =>
            {
                await Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
                await Expect(page.Locator("[data-testid=votes-APC]")).ToHaveTextAsync("35");
                await Expect(page.Locator("[data-testid=votes-PDP]")).ToHaveTextAsync("30");
                await Expect(page.Locator("[data-testid=votes-LP]")).ToHaveTextAsync("3");
            });

            await gateway.DisposeAsync();
            gateway = null;
            await Browsing.Expecting("the page to say it is reconnecting and since when its data is stale", async () =>
            {
                await Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "reconnecting", new() { Timeout = 15_000 });
                await Expect(page.Locator("#conn")).ToContainTextAsync("Reconnecting");
                await Expect(page.Locator("#stale")).ToContainTextAsync("Stale since");
            });
            // The last known figures stay on the page while it reconnects.
            await Expect(page.Locator("[data-testid=votes-APC]")).ToHaveTextAsync("35");
            await page.ScreenshotAsync("reconnecting", output);

            gateway = await TestGateway.StartAsync(dataDirectory, settings);
            await Browsing.Expecting("the page to be live again on the restarted gateway", () =>
                Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live", new() { Timeout = 60_000 }));
            await Browsing.Expecting("the exact totals after the restart", async () =>
            {
                await Expect(page.Locator("[data-testid=votes-APC]")).ToHaveTextAsync("35");
                await Expect(page.Locator("[data-testid=votes-PDP]")).ToHaveTextAsync("30");
                await Expect(page.Locator("[data-testid=card-coverage]")).ToHaveTextAsync("2 / 4,519 units");
            });

            // And it is live, not just restored: a new sheet shows up.
            await Sheets.SubmitAsync(gateway, Sheets.Unit(9, 1, 1), 1, 2, 3);
            await Browsing.Expecting("a sheet sent after the restart to show up", async () =>
            {
                await Expect(page.Locator("[data-testid=votes-APC]")).ToHaveTextAsync("36");
                await Expect(page.Locator("[data-testid=votes-LP]")).ToHaveTextAsync("6");
                await Expect(page.Locator("#stale")).ToHaveTextAsync("");
            });
        }
        finally
        {
            if (gateway is not null)
            {
                await gateway.DisposeAsync();
            }
        }
    }
}
