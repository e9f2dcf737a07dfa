using ProcessCluster.Telemetry;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Cluster:WorkerHealthPath with the app's own ASP.NET Core health checks: the one worker whose check fails is replaced
/// (reason health) while the others serve, and no request fails.
/// </summary>
public class WorkerHealthTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_worker_whose_health_check_fails_is_replaced_with_reason_health_and_no_request_fails()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2, environment: new Dictionary<string, string>
        {
            ["Cluster__WorkerHealthPath"] = "/health",
            ["Cluster__WorkerHealthInterval"] = "00:00:02",
            ["Cluster__WorkerHealthTimeout"] = "00:00:02",
            ["Cluster__WorkerHealthFailures"] = "2",
            ["Cluster__AdminUrl"] = "http://127.0.0.1:0",
        });
        var original = await cluster.ReadyPidsAsync();
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 8);
        await load.WaitForSuccessesAsync(200, Deadline);

        using var client = new AppClient(cluster.BaseAddress);
        var sick = int.Parse((await client.GetAsync("/health/fail"))["sick: ".Length..]);
        var healthy = Assert.Single(original, pid => pid != sick);

        var now = await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Contains(sick), "a replacement for the sick worker", Deadline);
        Assert.True(now.Contains(healthy), $"healthy worker {healthy} replaced too:\n{string.Join('\n', cluster.Lines.Where(line => line.Contains("health", StringComparison.Ordinal)))}");
        Assert.Single(now, pid => !original.Contains(pid));
        await Poll.UntilAsync(() => !cluster.ChildPids().Contains(sick), Deadline, $"sick worker {sick} exited");
        await cluster.WaitForLineAsync(line => line.Contains("failed 2 health probes of /health in a row (last: status 503)", StringComparison.Ordinal), Deadline);
        var status = await cluster.WaitForStatusAsync(
            status => status.Events.Any(e => e.Kind == ClusterEventKind.Exited && e.Pid == sick), $"the exit of {sick} in the event log", Deadline);
        Assert.EndsWith("(health)", status.Events.Single(e => e.Kind == ClusterEventKind.Exited).Message, StringComparison.Ordinal);
        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync() };
        // The exporter caches a scrape for a moment.
        await Poll.UntilAsync(
            async () => MetricsTests.Parse(await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative))).GetValueOrDefault("processcluster_worker_restarts_total{reason=\"health\"}") == 1,
            Deadline,
            "the health restart in /metrics");

        await load.WaitForSuccessesAsync(load.Succeeded + 200, Deadline);
        var report = await load.StopAsync();
        Assert.True(report.Failed == 0, $"{report.Failed} of {report.Succeeded + report.Failed} requests failed:\n{string.Join('\n', report.FailureSamples)}");
        Assert.True(report.ResponsesByPid.GetValueOrDefault(healthy) > 0);
        // Only the sick one went: the healthy worker passed every probe all along.
        Assert.Single(status.Events, e => e.Kind == ClusterEventKind.Exited);
    }
}
