using System.Net;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Cluster:MinWorkers=0 with real processes: an idle cluster stops its last worker and keeps its port; the next request
/// is answered by a worker started for it (held in the primary with RoundRobin, in the socket's queue with Shared);
/// readiness says ready throughout; load grows the cluster again.
/// </summary>
public class ScaleToZeroTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <param name="growUnderLoad">Then load: the cluster grows again (once is enough: growth does not depend on the mode).</param>
    [Theory]
    [InlineData("RoundRobin", true)]
    [InlineData("Shared", false)]
    public async Task An_idle_cluster_reaches_zero_workers_answers_the_next_request_and_grows_under_load(string scheduling, bool growUnderLoad)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: null, environment: new Dictionary<string, string>
        {
            ["Cluster__MinWorkers"] = "0",
            ["Cluster__MaxWorkers"] = "2",
            ["Cluster__ScaleDownWindow"] = "00:00:01",
            ["Cluster__ScaleWarmUp"] = "00:00:00",
            ["Cluster__AdminUrl"] = "http://127.0.0.1:0",
        });
        var first = Assert.Single(await cluster.ReadyPidsAsync());
        var admin = await cluster.AdminAddressAsync();
        using var client = new HttpClient { Timeout = Deadline };

        await Poll.UntilAsync(() => cluster.ChildPids().Count == 0, Deadline, "the last worker to exit", () => string.Join("\n", cluster.Lines.TakeLast(20)));
        // The primary logs through a queue: the decision's line can reach us after the worker it stopped has exited.
        await cluster.WaitForLineAsync(line => line.Contains("Scaling 1 → 0 workers: busy 0.00", StringComparison.Ordinal), Deadline);
        Assert.Equal("ready", await client.GetStringAsync(new Uri(admin, "/healthz/ready")));

        // A new connection (not one kept alive from before): accepted while no worker runs, answered by the one it starts.
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cluster.BaseAddress, "/hello")) { Headers = { ConnectionClose = true } })
        using (var response = await client.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = await response.Content.ReadAsStringAsync();
            Assert.StartsWith("hello from ", answer, StringComparison.Ordinal);
            Assert.NotEqual($"hello from {first}", answer);
        }

        await cluster.WaitForLineAsync(line => line.Contains("Scaling 0 → 1 workers: 1 connections waiting and no worker", StringComparison.Ordinal), Deadline);

        if (!growUnderLoad)
        {
            return;
        }

        await using var burn = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/"), concurrency: 6);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2, "the cluster to grow to 2 workers under load", Deadline);
        (await burn.StopAsync()).AssertNoneFailed();
    }
}
