using Microsoft.Playwright;
using Tprcs.BrowserTests.Support;
using Tprcs.Tests.Support;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Tprcs.BrowserTests;

public sealed class DashboardTests(BrowserSession session, ITestOutputHelper output) : IClassFixture<BrowserSession>, IAsyncLifetime
{
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private string Url(string hash) => new Uri(_gateway.BaseAddress, "/" + hash).ToString();

    [Fact]
    public async Task Sheets_submitted_through_the_api_appear_on_the_root_page_within_a_bound()
    {
        var (context, page) = await session.OpenAsync(output);
        await using var _ = context;
        await page.GotoAsync(Url("#/edo-2024-gov"));
        await Browsing.Expecting("the root area page showing 'Edo' and the live indicator", async () =>
        {
            await Expect(page.Locator("#area-title")).ToHaveTextAsync("Edo");
            await Expect(page.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
        });

        await Sheets.SubmitAsync(_gateway, Sheets.Unit(1, 1, 1), 100, 80, 10);
        await Sheets.SubmitAsync(_gateway, Sheets.Unit(2, 1, 1), 120, 60, 5);
        await Sheets.SubmitAsync(_gateway, Sheets.Unit(3, 2, 1), 90, 95, 1);
        var submitted = DateTime.UtcNow;

        await Browsing.Expecting("APC 310 / PDP 235 / LP 16 on the root page within 5 s of the last sheet", async () =>
        {
            await Expect(page.Locator("[data-testid=votes-APC]")).ToHaveTextAsync("310", new() { Timeout = 5_000 });
            await Expect(page.Locator("[data-testid=votes-PDP]")).ToHaveTextAsync("235", new() { Timeout = 5_000 });
            await Expect(page.Locator("[data-testid=votes-LP]")).ToHaveTextAsync("16", new() { Timeout = 5_000 });
        });
        output.WriteLine($"totals shown {(DateTime.UtcNow - submitted).TotalMilliseconds:F0} ms after the last sheet was acknowledged");
        await Expect(page.Locator("[data-testid=card-coverage]")).ToHaveTextAsync("3 / 4,519 units");
        await Expect(page.Locator("[data-testid=card-leader]")).ToHaveTextAsync("APC 310");
        await page.ScreenshotAsync("root-area", output);

        // Phone width: same page, no horizontal page scroll.
        await page.SetViewportSizeAsync(390, 844);
        var overflow = await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > document.documentElement.clientWidth");
        Assert.False(overflow, "the page scrolls sideways at phone width (390 px)");
        await page.ScreenshotAsync("root-area-phone", output);
    }

    [Fact]
    public async Task Drill_down_from_the_state_to_a_polling_unit_and_back()
    {
        var unit = Sheets.Unit(4, 1, 1);
        await Sheets.SubmitAsync(_gateway, unit, 100, 80, 10, "copy-a");
        await Sheets.SubmitAsync(_gateway, unit, 101, 80, 10, "copy-b");   // a second agent's copy that differs on APC (and its arithmetic)
        await Sheets.SubmitAsync(_gateway, Sheets.Unit(4, 1, 2), 50, 40, 3);

        var (context, page) = await session.OpenAsync(output);
        await using var _ = context;
        await page.GotoAsync(Url("#/"));
        await page.Locator("a[data-election=edo-2024-gov]").ClickAsync();
        await Browsing.Expecting("the state page after choosing the election", () => Expect(page.Locator("#area-title")).ToHaveTextAsync("Edo"));

        await page.Locator("#children tr[data-code='ED/04'] a").ClickAsync();
        await Browsing.Expecting("the LGA page ED/04 with its hash route", async () =>
        {
            await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#/edo-2024-gov/ED/04$"));
            await Expect(page.Locator("#area-sub")).ToContainTextAsync("LGA ED/04");
        });
        await page.Locator("#children tr[data-code='ED/04/01'] a").ClickAsync();
        await Browsing.Expecting("the ward page ED/04/01 listing the conflicting unit", async () =>
        {
            await Expect(page.Locator("#area-sub")).ToContainTextAsync("Ward ED/04/01");
            await Expect(page.Locator($"#children tr[data-code='{unit}'] td.status")).ToHaveTextAsync("conflict");
            await Expect(page.Locator("[data-testid=flag-copyConflict]")).ToHaveTextAsync("1");
            await Expect(page.Locator("#flag-list")).ToContainTextAsync("conflict");
        });
        await page.ScreenshotAsync("ward", output);

        // Keyboard: sort the children by votes cast with the header button.
        await page.Locator("th[data-col=cast] button").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Browsing.Expecting("the children sorted by votes cast, largest first", async () =>
        {
            await Expect(page.Locator("th[data-col=cast]")).ToHaveAttributeAsync("aria-sort", "descending");
            await Expect(page.Locator("#children tbody tr").First).ToHaveAttributeAsync("data-code", Sheets.Unit(4, 1, 2));
        });

        await page.Locator($"#children tr[data-code='{unit}'] a").ClickAsync();
        await Browsing.Expecting("the polling unit page with both copies and APC highlighted as differing", async () =>
        {
            await Expect(page.Locator("#unit-status")).ToHaveAttributeAsync("data-version", "2");
            await Expect(page.Locator("#copies-table thead th")).ToHaveCountAsync(3);
            await Expect(page.Locator("#copies-table tr[data-field='votes.APC']")).ToHaveClassAsync("differs");
            await Expect(page.Locator("#copies-table tr[data-field='votes.PDP']")).Not.ToHaveClassAsync("differs");
            await Expect(page.Locator("#copies-table")).ToContainTextAsync(TestGateway.Agent);
        });
        await page.ScreenshotAsync("polling-unit", output);

        // A third copy arrives while the unit page is open: the ward's feed row changes version, the page fetches again.
        await Sheets.SubmitAsync(_gateway, unit, 100, 80, 10, "copy-c");
        await Browsing.Expecting("the unit page to show the third copy after the ward's row changed version", async () =>
        {
            await Expect(page.Locator("#unit-status")).ToHaveAttributeAsync("data-version", "3");
            await Expect(page.Locator("#copies-table thead th")).ToHaveCountAsync(4);
        });

        await page.GoBackAsync();
        await Browsing.Expecting("the ward page again after Back", () => Expect(page.Locator("#area-sub")).ToContainTextAsync("Ward ED/04/01"));
        await page.GoBackAsync();
        await Browsing.Expecting("the LGA page again after a second Back", () => Expect(page.Locator("#area-sub")).ToContainTextAsync("LGA ED/04"));
        // One of the ward's two reporting units is in conflict, so not counted.
        await Browsing.Expecting("the LGA's row for the ward to show 1 of 27 units counted", () =>
            Expect(page.Locator("#children tr[data-code='ED/04/01'] td").Nth(0)).ToHaveTextAsync("1/27"));

        // A deep link opens the same view in a fresh page.
        var deep = await context.NewPageAsync();
        Browsing.Watch(deep, output);
        await deep.GotoAsync(Url("#/edo-2024-gov/ED/04/01"));
        await Browsing.Expecting("a deep link to the ward to open the ward", () => Expect(deep.Locator("#area-sub")).ToContainTextAsync("Ward ED/04/01"));
    }

    [Fact]
    public async Task Two_tabs_share_one_connection_through_the_shared_worker()
    {
        var (context, first) = await session.OpenAsync(output);
        await using var _ = context;
        var pageSockets = 0;
        first.WebSocket += (_, _) => Interlocked.Increment(ref pageSockets);
        await first.GotoAsync(Url("#/edo-2024-gov"));
        await Browsing.Expecting("the first tab to be live", () => Expect(first.Locator("#conn")).ToHaveAttributeAsync("data-state", "live"));
        Assert.Equal("shared", await first.Locator("#conn").GetAttributeAsync("data-mode"));

        var second = await context.NewPageAsync();
        Browsing.Watch(second, output);
        second.WebSocket += (_, _) => Interlocked.Increment(ref pageSockets);
        await second.GotoAsync(Url("#/edo-2024-gov/ED/05"));
        await Browsing.Expecting("the second tab to be live on the same connection, with two tabs attached", async () =>
        {
            await Expect(second.Locator("#conn")).ToHaveAttributeAsync("data-state", "live");
            await Expect(second.Locator("#conn")).ToHaveAttributeAsync("data-ports", "2");
            await Expect(first.Locator("#conn")).ToHaveAttributeAsync("data-ports", "2");
        });
        var id1 = await first.Locator("#conn").GetAttributeAsync("data-connection-id");
        var id2 = await second.Locator("#conn").GetAttributeAsync("data-connection-id");
        Assert.False(string.IsNullOrEmpty(id1));
        Assert.Equal(id1, id2);
        Assert.Equal(0, pageSockets);   // neither page opened a WebSocket itself

        await Sheets.SubmitAsync(_gateway, Sheets.Unit(5, 1, 1), 10, 20, 30);
        await Browsing.Expecting("both tabs to show the new sheet through the one connection", async () =>
        {
            await Expect(first.Locator("#children tr[data-code='ED/05'] td").Nth(0)).ToHaveTextAsync("1/259");
            await Expect(second.Locator("[data-testid=votes-LP]")).ToHaveTextAsync("30");
        });
    }
}
