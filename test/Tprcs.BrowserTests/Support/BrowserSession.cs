using System.Net.Http.Json;
using Microsoft.Playwright;
using Tprcs.Tests.Support;
using Xunit.Abstractions;

namespace Tprcs.BrowserTests.Support;

/// <summary>Debian's Chromium driven by Playwright (no browser download), one per test class.</summary>
public sealed class BrowserSession : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"The browser tests need Chromium at {ChromiumPath} (Debian package 'chromium'); see test/Tprcs.BrowserTests/README.md.");
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}

public static class Browsing
{
    public const float Timeout = 15_000;

    /// <summary>A new context and page whose errors and console go to the test output.</summary>
    public static async Task<(IBrowserContext Context, IPage Page)> OpenAsync(this BrowserSession session, ITestOutputHelper output,
        int width = 1280, int height = 1000)
    {
        var context = await session.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        context.SetDefaultTimeout(Timeout);
        var page = await context.NewPageAsync();
        Watch(page, output);
        return (context, page);
    }

    public static void Watch(IPage page, ITestOutputHelper output)
    {
        page.PageError += (_, e) => Log(output, $"page error: {e}");
        page.Console += (_, m) =>
        {
            if (m.Type is "error" or "warning")
            {
                Log(output, $"console {m.Type}: {m.Text}");
            }
        };
    }

    private static void Log(ITestOutputHelper output, string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test already ended.
        }
    }

    /// <summary>Runs a Playwright expectation and, if it times out, says what did not happen.</summary>
    public static async Task Expecting(string what, Func<Task> expectation)
    {
        try
        {
            await expectation();
        }
        catch (Exception ex) when (ex is PlaywrightException or TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"{what} did not happen: {ex.Message}");
        }
    }

    public static async Task<string> ScreenshotAsync(this IPage page, string name, ITestOutputHelper output)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "artifacts", "screenshots");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
        return path;
    }
}

/// <summary>Sheets posted through the API as an agent would.</summary>
public static class Sheets
{
    /// <summary>A good sheet (accredited = cast = valid + rejected): keep figures under the smallest unit's register (50).</summary>
    public static async Task SubmitAsync(TestGateway gateway, string unit, int apc, int pdp, int lp, string? id = null)
    {
        var valid = apc + pdp + lp;
        const int rejected = 5;
        var body = new
        {
            submissionId = id ?? $"s-{Guid.NewGuid():N}",
            pollingUnit = unit,
            accreditedVoters = valid + rejected,
            rejected,
            votes = new Dictionary<string, int> { ["APC"] = apc, ["PDP"] = pdp, ["LP"] = lp },
            totalValid = valid,
            totalCast = valid + rejected,
        };
        using var response = await gateway.Agent_.PostAsJsonAsync($"/api/v1/elections/{TestGateway.Election}/submissions", body);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Submitting {unit} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    public static string Unit(int lga, int ward, int unit) => $"ED/{lga:00}/{ward:00}/{unit:000}";
}
