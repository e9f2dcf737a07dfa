using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The chat sample's page with the real JavaScript client (@microsoft/signalr from npm, served by the app itself) in
/// Debian's chromium: two pages held by the two workers of a cluster, and a message typed in one shown in the other.
/// </summary>
public class SignalRBrowserTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>New pages are opened until one is held by another worker than the first; round-robin makes that quick.</summary>
    private const int MaxPages = 8;

    [Fact]
    public async Task A_message_sent_from_a_page_on_one_worker_shows_in_a_page_on_the_other()
    {
        Chromium.AssertInstalled();
        var client = Path.Combine(Path.GetDirectoryName(TestCluster.ChatAssembly)!, "../../../node_modules/@microsoft/signalr/dist/browser/signalr.min.js");
        Assert.True(File.Exists(client), $"{Path.GetFullPath(client)} is missing: run `bash .ci/setup` once (npm ci in samples/Chat).");
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__Affinity"] = "ConnectionToken" }, app: TestCluster.ChatAssembly);
        var pids = await cluster.ReadyPidsAsync();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var a = await OpenAsync(browser, cluster);
        var workerA = await WorkerAsync(a);
        IPage? b = null;
        for (var opened = 1; b is null && opened < MaxPages; opened++)
        {
            var page = await OpenAsync(browser, cluster);
            if (await WorkerAsync(page) != workerA)
            {
                b = page;
            }
            else
            {
                await page.Context.CloseAsync();
            }
        }

        Assert.True(b is not null, $"{MaxPages} pages all connected to worker {workerA}");
        var workerB = await WorkerAsync(b);
        Assert.Equal(pids.Order(), new[] { workerA, workerB }.Order());

        var screenshot = Path.Combine(AppContext.BaseDirectory, "artifacts", "signalr-chat.png");
        try
        {
            await a.Locator("#user").FillAsync("alice");
            await a.Locator("#text").FillAsync("hello from the other worker");
            await a.Locator("#send").ClickAsync();

            // B got it through the backplane: relayed by A's worker, shown on B's page.
            var received = b.Locator("#messages li").Filter(new() { HasText = "alice #1: hello from the other worker" });
            await Expect(received).ToHaveCountAsync(1);
            await Expect(received.Locator(".worker")).ToHaveTextAsync($"(via worker pid {workerA})");
            await Expect(a.Locator("#messages li")).ToHaveCountAsync(1);
        }
        finally
        {
            await b.ScreenshotAsync(new() { Path = screenshot });
            output.WriteLine($"chat screenshot (the page on worker {workerB}): {screenshot}");
        }
    }

    private static async Task<IPage> OpenAsync(IBrowser browser, TestCluster cluster)
    {
        var page = await Chromium.NewPageAsync(browser, Deadline);
        await page.GotoAsync(cluster.BaseAddress.ToString());
        return page;
    }

    /// <summary>The worker pid the page shows once its connection started (it asks the hub).</summary>
    private static async Task<int> WorkerAsync(IPage page)
    {
        var status = page.Locator("#status[data-worker]");
        await Expect(status).ToHaveCountAsync(1);
        return int.Parse((await status.GetAttributeAsync("data-worker"))!, System.Globalization.CultureInfo.InvariantCulture);
    }
}
