using System.Net.Http.Json;
using System.Text.RegularExpressions;
using ProcessCluster.Control;

namespace ProcessCluster.IntegrationTests;

/// <summary>The admin endpoint's /metrics (Prometheus text from the OpenTelemetry exporter) and /api/status.</summary>
public partial class MetricsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Metrics_parse_as_prometheus_text_and_carry_the_cluster_series()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" });
        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync() };
        var victim = (await cluster.ReadyPidsAsync())[0];
        ProcessTree.Kill(victim);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Contains(victim), "a replacement", Deadline);
        cluster.Signal(21); // SIGTTIN: a scale event
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 3, "a third worker", Deadline);
        using var client = new AppClient(cluster.BaseAddress);
        for (var i = 0; i < 6; i++)
        {
            await client.GetAsync("/hello");
        }

        string[] perWorker =
        [
            "processcluster_worker_cpu_utilization", "processcluster_worker_memory_rss_bytes", "processcluster_worker_requests_total",
            "processcluster_worker_requests_in_flight", "processcluster_worker_busy", "processcluster_worker_connections_dispatched_total",
        ];
        var samples = new Dictionary<string, double>();
        ClusterStatus? status = null;
        // Until every worker has been sampled: a series leaves a worker out until it has a value (CPU and busy take two samples).
        await Poll.UntilAsync(
            async () =>
            {
                samples = Parse(await admin.GetStringAsync("/metrics"));
                status = await admin.GetFromJsonAsync(new Uri("/api/status", UriKind.Relative), ControlJson.Default.ClusterStatus);
                return samples.GetValueOrDefault("processcluster_workers{state=\"ready\"}") == 3
                    && status is { Workers.Count: 3 }
                    && status.Workers.All(worker => perWorker.All(series => samples.ContainsKey($"{series}{{worker=\"{worker.Id}\"}}")));
            },
            Deadline,
            "3 ready workers in /metrics, each with every per-worker series");

        Assert.Equal(3, samples["processcluster_workers_desired"]);
        Assert.True(samples["processcluster_workers_max"] >= 3);
        Assert.Equal(0, samples["processcluster_dispatch_queue"]);
        Assert.Equal(1, samples["processcluster_worker_restarts_total{reason=\"killed by signal\"}"]);
        Assert.Equal(1, samples["processcluster_scale_events_total{direction=\"up\"}"]);
        Assert.Equal(6, samples.Where(pair => pair.Key.StartsWith("processcluster_worker_connections_dispatched_total{", StringComparison.Ordinal)).Sum(pair => pair.Value));
        Assert.True(samples.Where(pair => pair.Key.StartsWith("processcluster_worker_memory_rss_bytes{", StringComparison.Ordinal)).All(pair => pair.Value > 10e6));
    }

    [Fact]
    public async Task Api_status_says_what_the_cli_says()
    {
        await using var cluster = await TestCluster.StartAsync(
            "Shared", workers: 2, environment: new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" });
        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync() };
        var api = await admin.GetFromJsonAsync(new Uri("/api/status", UriKind.Relative), ControlJson.Default.ClusterStatus);
        var cli = await ClusterCli.StatusAsync(cluster.PrimaryPid);
        Assert.NotNull(api);
        Assert.Equal(cli.Pid, api.Pid);
        Assert.Equal(SchedulingMode.Shared, api.Scheduling);
        Assert.Equal(cli.Urls, api.Urls);
        Assert.Equal(cli.Workers.Select(worker => (worker.Id, worker.Pid, worker.State)), api.Workers.Select(worker => (worker.Id, worker.Pid, worker.State)));
        Assert.Equal((await cluster.ReadyPidsAsync()).Order(), api.Workers.Select(worker => worker.Pid).Order());
        Assert.Contains(api.Events, @event => @event.Kind == Telemetry.ClusterEventKind.Ready);
    }

    /// <summary>Prometheus text format: comments, and "name{labels} value" samples; anything else fails the test.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches(@"^# (HELP|TYPE|EOF)", line);
                continue;
            }

            var match = Sample().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample: {line}");
            // The exporter tags every series with its scope; the tests name series by their own labels.
            var labels = string.Join(',', match.Groups["labels"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Where(label => !label.StartsWith("otel_scope_", StringComparison.Ordinal)));
            samples[labels.Length > 0 ? $"{match.Groups["name"].Value}{{{labels}}}" : match.Groups["name"].Value] =
                double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        return samples;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[-+]?[0-9.eE+-]+|NaN|[+-]Inf)( \d+)?$")]
    private static partial Regex Sample();
}
