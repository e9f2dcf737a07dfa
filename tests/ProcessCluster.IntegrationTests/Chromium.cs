using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ProcessCluster.IntegrationTests;

/// <summary>Debian's chromium (installed by .ci/setup) through Playwright, which never downloads a browser of its own.</summary>
internal static class Chromium
{
    public const string Path = "/usr/bin/chromium";

    /// <summary>Skipping would hide a machine that cannot run the browser tests; the setup script is the cure.</summary>
    public static void AssertInstalled() =>
        Assert.True(File.Exists(Path), $"{Path} is missing: run `bash .ci/setup` once (installs Debian's chromium).");

    public static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new()
    {
        ExecutablePath = Path,
        Headless = true,
        Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });

    /// <summary>A page in a fresh context (its own connections), whose waits and expectations end at <paramref name="deadline"/>.</summary>
    public static async Task<IPage> NewPageAsync(IBrowser browser, TimeSpan deadline)
    {
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        page.SetDefaultTimeout((float)deadline.TotalMilliseconds);
        SetDefaultExpectTimeout((float)deadline.TotalMilliseconds);
        return page;
    }
}
