using System.Net;
using ProcessCluster.Worker;

namespace ProcessCluster.Tests;

public class ExitStatusTests
{
    [Theory]
    [InlineData(null, 9, "killed by signal SIGKILL")]
    [InlineData(null, 15, "killed by signal SIGTERM")]
    [InlineData(42, null, "exited with error code 42")]
    [InlineData(137, null, "exited with error code 137")]
    [InlineData(0, null, "exited cleanly")]
    public void Describes_how_a_worker_ended(int? code, int? signal, string expected)
    {
        Assert.Equal(expected, new ExitStatus(code, signal).Describe());
    }
}

public class ClusterEndpointTests
{
    [Theory]
    [InlineData("http://127.0.0.1:3000", "127.0.0.1", 3000)]
    [InlineData("http://0.0.0.0:0", "0.0.0.0", 0)]
    [InlineData("http://*:8080", "::", 8080)]
    [InlineData("http://+:8080/", "::", 8080)]
    [InlineData("http://example.internal:81", "::", 81)]
    [InlineData("http://[::1]:5000", "::1", 5000)]
    [InlineData("https://10.1.2.3", "10.1.2.3", 443)]
    public void Parses_urls_as_kestrel_binds_them(string url, string address, int port)
    {
        var endpoint = Assert.Single(ClusterEndpoint.Parse(url));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endpoint.EndPoint);
    }

    [Fact]
    public void Localhost_is_both_loopbacks_and_lists_split_on_semicolons()
    {
        var endpoints = ClusterEndpoint.ParseUrls(["http://localhost:3000;http://127.0.0.1:0"]);
        Assert.Equal(["127.0.0.1:3000", "[::1]:3000", "127.0.0.1:0"], endpoints.Select(endpoint => endpoint.EndPoint.ToString()));
    }

    [Theory]
    [InlineData("127.0.0.1:3000")]
    [InlineData("http://127.0.0.1:99999")]
    [InlineData("http://127.0.0.1:port")]
    public void Rejects_what_is_not_a_url(string url)
    {
        Assert.Throws<FormatException>(() => ClusterEndpoint.Parse(url).ToList());
    }
}

public class WorkerEndpointMatchTests
{
    private static WorkerEndpoint Endpoint(int index, string configured, string bound) =>
        new(index, IPEndPoint.Parse(configured), IPEndPoint.Parse(bound), inbox: null, sharedListenFd: null);

    private readonly IReadOnlyList<WorkerEndpoint> _endpoints =
    [
        Endpoint(0, "[::]:3000", "[::]:3000"),
        Endpoint(1, "127.0.0.1:0", "127.0.0.1:41001"),
        Endpoint(2, "127.0.0.1:0", "127.0.0.1:41002"),
    ];

    [Fact]
    public void Any_address_requests_match_either_family()
    {
        Assert.Equal(0, WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("0.0.0.0:3000"))?.Index);
        Assert.Equal(0, WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("[::]:3000"))?.Index);
    }

    [Fact]
    public void Port_zero_requests_take_port_zero_endpoints_in_order()
    {
        Assert.Equal(1, WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("127.0.0.1:0"))?.Index);
        Assert.Equal(2, WorkerEndpoint.Match(_endpoints, new HashSet<int> { 1 }, IPEndPoint.Parse("127.0.0.1:0"))?.Index);
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int> { 1, 2 }, IPEndPoint.Parse("127.0.0.1:0")));
    }

    [Fact]
    public void Other_addresses_are_not_the_clusters()
    {
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("127.0.0.1:3001")));
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("10.0.0.1:0")));
    }
}

public class ClusterOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_autoscale_from_one_worker_to_one_per_cpu()
    {
        var options = new ClusterOptions();
        Assert.Empty(options.Validate());
        Assert.Equal((1, Environment.ProcessorCount), (options.MinWorkers, options.MaxWorkers));
        Assert.Equal(Environment.ProcessorCount > 1, options.Autoscaling);
        Assert.Equal(1, options.InitialWorkers);
        Assert.Equal(SchedulingMode.RoundRobin, options.Scheduling);
    }

    [Fact]
    public void A_fixed_worker_count_turns_autoscaling_off()
    {
        var options = new ClusterOptions { Workers = 3, MinWorkers = 1, MaxWorkers = 8 };
        Assert.False(options.Autoscaling);
        Assert.Equal(3, options.InitialWorkers);
    }

    [Fact]
    public void Each_bad_setting_is_named()
    {
        var options = new ClusterOptions { Workers = 0, MaxHandoffsInFlight = 0, DrainTimeout = TimeSpan.Zero, Scheduling = (SchedulingMode)7 };
        var errors = options.Validate();
        Assert.Contains(errors, error => error.StartsWith("Cluster:Workers", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:MaxHandoffsInFlight", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:DrainTimeout", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:Scheduling", StringComparison.Ordinal));
    }

    [Fact]
    public void Limits_that_contradict_each_other_are_named()
    {
        var options = new ClusterOptions
        {
            RestartDelay = TimeSpan.FromSeconds(20),
            HeartbeatTimeout = TimeSpan.FromSeconds(5),
            MaxRequestsJitter = 1.5,
            ReloadConcurrency = 0,
            ReadyTimeout = TimeSpan.FromSeconds(-1),
            MinWorkers = 4,
            MaxWorkers = 2,
            ScaleTargetBusy = 0,
        };
        var errors = options.Validate();
        Assert.Contains(errors, error => error.StartsWith("Cluster:MaxRestartDelay", StringComparison.Ordinal) && error.Contains("Cluster:RestartDelay", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:HeartbeatTimeout", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:MaxRequestsJitter", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:ReloadConcurrency", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:ReadyTimeout", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:MaxWorkers (2) must not be less than Cluster:MinWorkers (4)", StringComparison.Ordinal));
        Assert.Contains(errors, error => error.StartsWith("Cluster:ScaleTargetBusy", StringComparison.Ordinal));
    }

    [Fact]
    public void Warm_spares_need_round_robin_scheduling()
    {
        Assert.Empty(new ClusterOptions { WarmSpares = 1 }.Validate());
        Assert.Contains(
            new ClusterOptions { WarmSpares = 1, Scheduling = SchedulingMode.Shared }.Validate(),
            error => error.StartsWith("Cluster:WarmSpares needs Cluster:Scheduling=RoundRobin", StringComparison.Ordinal));
        Assert.Contains(new ClusterOptions { WarmSpares = -1 }.Validate(), error => error.StartsWith("Cluster:WarmSpares must be at least 0", StringComparison.Ordinal));
    }

    [Fact]
    public void A_warmup_path_is_a_path_and_needs_round_robin_scheduling()
    {
        Assert.Empty(new ClusterOptions { WarmupPath = "/hello" }.Validate());
        Assert.Empty(new ClusterOptions { WarmupPath = "", Scheduling = SchedulingMode.Shared }.Validate());
        Assert.Contains(new ClusterOptions { WarmupPath = "hello" }.Validate(), error => error.StartsWith("Cluster:WarmupPath must be a path starting with /", StringComparison.Ordinal));
        Assert.Contains(
            new ClusterOptions { WarmupPath = "/hello", Scheduling = SchedulingMode.Shared }.Validate(),
            error => error.StartsWith("Cluster:WarmupPath needs Cluster:Scheduling=RoundRobin", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://127.0.0.1:0", null, null)]
    [InlineData("http://localhost:9090", null, null)]
    [InlineData("http://[::1]:9090", null, null)]
    [InlineData("http://0.0.0.0:9090", "s3cret", null)]
    [InlineData("http://0.0.0.0:9090", null, "Cluster:AdminToken is required")]
    [InlineData("http://10.1.2.3:9090", "", "Cluster:AdminToken is required")]
    [InlineData("https://127.0.0.1:9090", null, "Cluster:AdminUrl must be an http:// URL")]
    [InlineData("127.0.0.1:9090", null, "Cluster:AdminUrl must be an http:// URL")]
    public void The_admin_endpoint_needs_a_token_off_loopback(string url, string? token, string? error)
    {
        var errors = new ClusterOptions { AdminUrl = url, AdminToken = token }.Validate();
        if (error is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Contains(errors, message => message.StartsWith(error, StringComparison.Ordinal));
        }
    }
}
