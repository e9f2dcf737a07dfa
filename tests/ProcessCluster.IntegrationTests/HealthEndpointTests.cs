using System.Net;

namespace ProcessCluster.IntegrationTests;

/// <summary>The admin endpoint's /healthz/live and /healthz/ready, as a Kubernetes probe or a load balancer calls them.</summary>
public class HealthEndpointTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Health_paths_need_no_token_nor_known_host_and_ready_turns_503_when_the_cluster_drains()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1, environment: new Dictionary<string, string>
        {
            ["Cluster__AdminUrl"] = "http://127.0.0.1:0",
            ["Cluster__AdminToken"] = "s3cret",
            ["Cluster__DrainTimeout"] = "00:00:20",
        });
        var admin = await cluster.AdminAddressAsync();
        using var client = new HttpClient { BaseAddress = admin, Timeout = Deadline };

        // A kubelet sends the pod's address as Host, and no token; the rest of the endpoint still wants both.
        foreach (var (path, body) in new[] { ("/healthz/live", "live"), ("/healthz/ready", "ready") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Host = $"10.1.2.3:{admin.Port}" } };
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(body, await response.Content.ReadAsStringAsync());
        }

        using (var status = await client.GetAsync(new Uri("/api/status", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);
        }

        // A request in flight keeps the worker draining after SIGTERM: the cluster is alive but takes no new traffic.
        using var app = new HttpClient { BaseAddress = cluster.BaseAddress, Timeout = Deadline };
        using var slow = await app.GetAsync(new Uri("/slow/4000", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        cluster.Signal(15);
        string? notReady = null;
        await Poll.UntilAsync(
            async () =>
            {
                using var ready = await client.GetAsync(new Uri("/healthz/ready", UriKind.Relative));
                notReady = await ready.Content.ReadAsStringAsync();
                return ready.StatusCode == HttpStatusCode.ServiceUnavailable;
            },
            Deadline,
            "/healthz/ready answering 503",
            () => $"last answer: {notReady}");
        Assert.Equal("not ready: the cluster is draining", notReady);
        using (var live = await client.GetAsync(new Uri("/healthz/live", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        Assert.Contains("finished in", await slow.Content.ReadAsStringAsync());
        Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
    }
}
