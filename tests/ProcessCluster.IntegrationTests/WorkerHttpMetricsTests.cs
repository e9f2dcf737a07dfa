using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace ProcessCluster.IntegrationTests;

/// <summary>The workers' own Kestrel and Hosting metrics on the primary's /metrics, per worker.</summary>
public class WorkerHttpMetricsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Each_workers_request_and_connection_metrics_reach_the_primarys_metrics_and_add_up_to_what_was_sent()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" });
        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync() };
        var status = await cluster.StatusAsync();
        const int Requests = 6;
        using (var client = new AppClient(cluster.BaseAddress))
        {
            for (var i = 0; i < Requests; i++)
            {
                await client.GetAsync("/hello");
            }
        }

        // One more connection, held open and idle: Kestrel counts it active in whichever worker it went to.
        using var held = new TcpClient();
        await held.ConnectAsync(IPAddress.Loopback, cluster.BaseAddress.Port);
        var samples = new Dictionary<string, double>();
        await Poll.UntilAsync(
            async () =>
            {
                samples = MetricsTests.Parse(await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
                return Sum(samples, "http_server_request_duration_seconds_count{") == Requests
                    && Sum(samples, "kestrel_connection_duration_seconds_count{") == Requests
                    && Sum(samples, "kestrel_active_connections{") == 1;
            },
            Deadline,
            $"{Requests} requests and connections, and 1 connection open, in the workers' series",
            () => string.Join('\n', samples.Where(pair => !pair.Key.StartsWith("processcluster_", StringComparison.Ordinal)).Select(pair => $"{pair.Key} {pair.Value}")));

        foreach (var worker in status.Workers)
        {
            var id = $"worker=\"{worker.Id}\"";
            // Round-robin: each worker served some of the connections.
            Assert.InRange(samples[$"http_server_request_duration_seconds_count{{{id}}}"], 1, Requests - 1);
            Assert.Equal(samples[$"http_server_request_duration_seconds_count{{{id}}}"], samples[$"http_server_request_duration_seconds_bucket{{{id},le=\"+Inf\"}}"]);
            Assert.True(samples[$"http_server_request_duration_seconds_sum{{{id}}}"] > 0);
            Assert.True(samples.ContainsKey($"kestrel_active_connections{{{id}}}"), $"kestrel_active_connections for worker {worker.Id}");
            Assert.Equal(0, samples[$"http_server_active_requests{{{id}}}"]);
        }

        // OpenMetrics ends with its EOF line: the workers' series go before it.
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Accept = { new MediaTypeWithQualityHeaderValue("application/openmetrics-text") } } })
        {
            using var response = await admin.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.StartsWith("application/openmetrics-text", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
            Assert.EndsWith("\n# EOF\n", text, StringComparison.Ordinal);
            Assert.Single(text.Split('\n'), line => line == "# EOF");
            Assert.Contains("\nhttp_server_request_duration_seconds_count{worker=", text, StringComparison.Ordinal);
        }

        // A worker that exits takes its series along.
        var gone = status.Workers[0];
        ProcessTree.Kill(gone.Pid);
        await Poll.UntilAsync(
            async () => !(await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Contains($"worker=\"{gone.Id}\",le=", StringComparison.Ordinal),
            Deadline,
            $"worker {gone.Id}'s series gone from /metrics");
    }

    /// <summary>
    /// A worker is not the primary: Cluster:AdminUrl off loopback needs the token only where the endpoint runs, and the
    /// token is withheld from the workers' environment.
    /// </summary>
    [Fact]
    public async Task Workers_start_when_the_admin_url_is_off_loopback_and_its_token_is_withheld_from_them_and_metrics_need_the_token()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1, environment: new Dictionary<string, string>
        {
            ["Cluster__AdminUrl"] = "http://0.0.0.0:0",
            ["Cluster__AdminToken"] = "s3cret",
        });
        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync() };
        using (var refused = await admin.GetAsync(new Uri("/metrics", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } };
        using var metrics = await admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("processcluster_workers{", await metrics.Content.ReadAsStringAsync());
    }

    private static double Sum(Dictionary<string, double> samples, string prefix) =>
        samples.Where(pair => pair.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(pair => pair.Value);
}
