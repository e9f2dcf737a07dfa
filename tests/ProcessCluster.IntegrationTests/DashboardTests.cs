using System.Net;
using System.Net.Http.Headers;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace ProcessCluster.IntegrationTests;

/// <summary>The admin endpoint's dashboard in a real browser (Debian's chromium through Playwright), and its token.</summary>
public class DashboardTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Dashboard_shows_each_worker_and_replaces_a_killed_one()
    {
        Chromium.AssertInstalled();
        await using var cluster = await StartWithAdminAsync(new Dictionary<string, string>());
        var admin = await cluster.AdminAddressAsync();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await Chromium.NewPageAsync(browser, Deadline);
        var screenshot = Path.Combine(AppContext.BaseDirectory, "artifacts", "dashboard.png");
        try
        {
            await page.GotoAsync(admin.ToString());
            await Expect(page.Locator("#connection")).ToHaveTextAsync("live");

            var rows = page.Locator("#workers tr[data-worker-id]");
            var pids = await cluster.ReadyPidsAsync();
            await Expect(rows).ToHaveCountAsync(2);
            foreach (var pid in pids)
            {
                await Expect(Row(page, pid).Locator(".state")).ToHaveTextAsync("Ready");
            }

            var victim = pids[0];
            var victimId = await Row(page, victim).GetAttributeAsync("data-worker-id");
            ProcessTree.Kill(victim);
            var now = await cluster.WaitForReadyPidsAsync(now => now.Count == 2 && !now.Contains(victim), "a replacement worker", Deadline);
            var replacement = now.Single(pid => !pids.Contains(pid));

            await Expect(Row(page, victim)).ToHaveCountAsync(0);
            await Expect(Row(page, replacement).Locator(".state")).ToHaveTextAsync("Ready");
            await Expect(rows).ToHaveCountAsync(2);
            await Expect(page.Locator("#events li.Exited").First).ToContainTextAsync($"worker {victimId} killed by signal SIGKILL");
            // Newest first: the replacement's fork and readiness come above the death that caused them.
            var sequences = (await page.Locator("#events li").EvaluateAllAsync<int[]>("items => items.map(i => Number(i.dataset.sequence))")).ToList();
            Assert.Equal(sequences.OrderDescending(), sequences);
        }
        finally
        {
            await page.ScreenshotAsync(new() { Path = screenshot });
            output.WriteLine($"dashboard screenshot: {screenshot}");
        }

        // The primary gone: the page says so instead of showing stale numbers as live.
        cluster.Signal(15);
        await cluster.WaitForExitAsync(Deadline);
        await Expect(page.Locator("#connection")).ToHaveTextAsync("disconnected");
        await Expect(page.Locator("#banner")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Dashboard_takes_the_token_once_from_its_fragment_and_sends_it_as_a_header()
    {
        Chromium.AssertInstalled();
        await using var cluster = await StartWithAdminAsync(new Dictionary<string, string> { ["Cluster__AdminToken"] = "s3cret" }, workers: 1);
        var admin = await cluster.AdminAddressAsync();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await Chromium.NewPageAsync(browser, Deadline);
        var urls = new List<string>();
        var console = new List<string>();
        page.Request += (_, request) => urls.Add(request.Url);
        page.Console += (_, message) => console.Add(message.Text);

        await page.GotoAsync(admin + "#token=s3cret");
        await Expect(page.Locator("#connection")).ToHaveTextAsync("live");
        await Expect(Row(page, Assert.Single(await cluster.ReadyPidsAsync()))).ToHaveCountAsync(1);
        Assert.DoesNotContain("token", page.Url);

        // Kept for the tab: a reload still shows the cluster.
        await page.ReloadAsync();
        await Expect(page.Locator("#connection")).ToHaveTextAsync("live");
        Assert.DoesNotContain(urls, url => url.Contains("token", StringComparison.Ordinal));
        Assert.DoesNotContain(console, text => text.Contains("Content Security Policy", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Admin_token_is_required_when_set_as_a_bearer_header_only(bool fromFile)
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "s3cret\n");
            await using var cluster = await StartWithAdminAsync(
                new Dictionary<string, string> { [fromFile ? "Cluster__AdminTokenFile" : "Cluster__AdminToken"] = fromFile ? file : "s3cret" }, workers: 1);
            using var client = new HttpClient { BaseAddress = await cluster.AdminAddressAsync(), Timeout = Deadline };

            foreach (var path in (string[])["/api/status", "/metrics", "/api/status?token=guess", "/api/status?token=s3cret"])
            {
                // Never in the URL, where the request log would keep it.
                using var refused = await client.GetAsync(new Uri(path, UriKind.Relative));
                Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {refused.StatusCode}");
            }

            using var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } };
            using (var response = await client.SendAsync(bearer))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Contains($"\"pid\":{cluster.PrimaryPid}", await response.Content.ReadAsStringAsync());
            }

            // The page holds no data: a browser opens it as /#token=..., and the page sends the token as a header.
            using var page = await client.GetAsync(new Uri("/", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("<title>ProcessCluster</title>", await page.Content.ReadAsStringAsync());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Admin_endpoint_answers_only_its_own_host_names_and_forbids_framing_and_referrers()
    {
        await using var cluster = await StartWithAdminAsync(new Dictionary<string, string>(), workers: 1);
        var address = await cluster.AdminAddressAsync();
        using var client = new HttpClient { BaseAddress = address, Timeout = Deadline };

        // A page of another site whose name was rebound to 127.0.0.1 sends its own name as Host.
        foreach (var (host, expected) in new[] { ($"rebind.example:{address.Port}", HttpStatusCode.BadRequest), ($"localhost:{address.Port}", HttpStatusCode.OK), ($"127.0.0.1:{address.Port}", HttpStatusCode.OK) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/status") { Headers = { Host = host } };
            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == expected, $"Host {host}: {response.StatusCode}");
        }

        using var page = await client.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal("DENY", Assert.Single(page.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(page.Headers.GetValues("Referrer-Policy")));
        var policy = Assert.Single(page.Headers.GetValues("Content-Security-Policy"));
        Assert.StartsWith("default-src 'none'; script-src 'sha256-", policy);
        Assert.Contains("frame-ancestors 'none'", policy);
    }

    private static ILocator Row(IPage page, int pid) => page.Locator($"#workers tr[data-pid='{pid}']");

    private static Task<TestCluster> StartWithAdminAsync(Dictionary<string, string> environment, int workers = 2)
    {
        environment["Cluster__AdminUrl"] = "http://127.0.0.1:0";
        return TestCluster.StartAsync("RoundRobin", workers, environment: environment);
    }
}
