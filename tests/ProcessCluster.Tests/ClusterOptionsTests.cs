namespace ProcessCluster.Tests;

public class ClusterOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_autoscale_from_two_workers_to_one_per_cpu()
    {
        var options = new ClusterOptions();
        Assert.Empty(options.Validate());
        var floor = Environment.ProcessorCount >= 2 ? 2 : 1;
        Assert.Equal((floor, Environment.ProcessorCount), (options.MinWorkers, options.MaxWorkers));
        Assert.Equal(Environment.ProcessorCount > 2, options.Autoscaling);
        Assert.Equal(floor, options.InitialWorkers);
        Assert.Equal(SchedulingMode.RoundRobin, options.Scheduling);
    }

    [Fact]
    public void A_worker_does_not_check_the_admin_endpoints_settings_whose_token_it_is_not_given()
    {
        var options = new ClusterOptions { AdminUrl = "http://0.0.0.0:9090", AgentUrl = "nonsense" };
        Assert.Equal(2, options.Validate().Count(error => error.StartsWith("Cluster:AdminToken is required", StringComparison.Ordinal) || error.StartsWith("Cluster:AgentUrl", StringComparison.Ordinal)));
        Assert.Empty(options.Validate(asPrimary: false));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(64, 2)]
    public void The_default_floor_is_two_workers_where_there_are_two_cpus_so_one_crash_leaves_one_serving(int cpus, int floor) =>
        Assert.Equal(floor, ClusterOptions.DefaultMinWorkers(cpus));

    [Fact]
    public void The_default_floor_never_exceeds_a_lower_maximum_and_an_explicit_floor_is_kept()
    {
        var capped = new ClusterOptions { MaxWorkers = 1 };
        Assert.Equal(1, capped.MinWorkers);
        Assert.Empty(capped.Validate());

        var explicitFloor = new ClusterOptions { MinWorkers = 1, MaxWorkers = 4 };
        Assert.Equal(1, explicitFloor.MinWorkers);
        Assert.Equal(1, explicitFloor.InitialWorkers);
    }

    [Fact]
    public void A_lean_primary_program_needs_the_lean_primary_and_the_absolute_path_of_a_file()
    {
        Assert.Empty(new ClusterOptions { LeanPrimary = true, LeanPrimaryProgram = "/bin/sh" }.Validate());
        Assert.Contains(new ClusterOptions { LeanPrimaryProgram = "/bin/sh" }.Validate(), error => error.StartsWith("Cluster:LeanPrimaryProgram needs Cluster:LeanPrimary=true", StringComparison.Ordinal));
        Assert.Contains(new ClusterOptions { LeanPrimary = true, LeanPrimaryProgram = "sh" }.Validate(), error => error.StartsWith("Cluster:LeanPrimaryProgram must be the absolute path", StringComparison.Ordinal));
        Assert.Contains(new ClusterOptions { LeanPrimary = true, LeanPrimaryProgram = "/nonexistent/dotnet-cluster" }.Validate(), error => error.StartsWith("Cluster:LeanPrimaryProgram must be the absolute path", StringComparison.Ordinal));
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
        AssertNamed(options.Validate(), "Cluster:Workers", "Cluster:MaxHandoffsInFlight", "Cluster:DrainTimeout", "Cluster:Scheduling");
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
        AssertNamed(
            errors,
            "Cluster:HeartbeatTimeout",
            "Cluster:MaxRequestsJitter",
            "Cluster:ReloadConcurrency",
            "Cluster:ReadyTimeout",
            "Cluster:MaxWorkers (2) must not be less than Cluster:MinWorkers (4)",
            "Cluster:ScaleTargetBusy");
    }

    [Fact]
    public void Scheduling_is_one_of_the_three_modes_and_ReusePort_names_itself_in_what_it_excludes()
    {
        Assert.Empty(new ClusterOptions { Scheduling = SchedulingMode.ReusePort }.Validate());
        Assert.Contains(
            new ClusterOptions { Scheduling = (SchedulingMode)7 }.Validate(),
            error => error == "Cluster:Scheduling must be RoundRobin, Shared or ReusePort (was 7)");
        Assert.Contains(
            new ClusterOptions { WarmSpares = 1, Scheduling = SchedulingMode.ReusePort }.Validate(),
            error => error.StartsWith("Cluster:WarmSpares needs Cluster:Scheduling=RoundRobin: with ReusePort scheduling", StringComparison.Ordinal));
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

    [Fact]
    public void A_worker_health_path_is_a_plain_path_needs_round_robin_and_its_timing_must_make_sense()
    {
        Assert.Empty(new ClusterOptions { WorkerHealthPath = "/healthz?probe=1" }.Validate());
        Assert.Empty(new ClusterOptions { WorkerHealthPath = null, Scheduling = SchedulingMode.Shared }.Validate());
        foreach (var path in new[] { "healthz", "/health z", "/health\r\nX-Injected: 1" })
        {
            Assert.Contains(
                new ClusterOptions { WorkerHealthPath = path }.Validate(),
                error => error.StartsWith("Cluster:WorkerHealthPath must be a path starting with /, without spaces or control characters", StringComparison.Ordinal));
        }

        Assert.Contains(
            new ClusterOptions { WorkerHealthPath = "/healthz", Scheduling = SchedulingMode.Shared }.Validate(),
            error => error.StartsWith("Cluster:WorkerHealthPath needs Cluster:Scheduling=RoundRobin", StringComparison.Ordinal));
        Assert.Equal(
            ["Cluster:WorkerHealthTimeout (00:00:11) must not be longer than Cluster:WorkerHealthInterval (00:00:10)"],
            new ClusterOptions { WorkerHealthTimeout = TimeSpan.FromSeconds(11) }.Validate());
        Assert.Equal(["Cluster:WorkerHealthFailures must be at least 1 (was 0)"], new ClusterOptions { WorkerHealthFailures = 0 }.Validate());
        Assert.Contains(new ClusterOptions { WorkerHealthInterval = TimeSpan.Zero }.Validate(), error => error == "Cluster:WorkerHealthInterval must be positive (was 00:00:00)");
    }

    [Theory]
    [InlineData("tcp://0.0.0.0:9101", true)]
    [InlineData("tcp://127.0.0.1:0", true)]
    [InlineData("tcp://[::]:9101", true)]
    [InlineData("tcp://0.0.0.0", false)]
    [InlineData("http://0.0.0.0:9101", false)]
    [InlineData("tcp://unix:/run/agent.sock", false)]
    [InlineData("tcp://0.0.0.0:9101/path", false)]
    [InlineData("0.0.0.0:9101", false)]
    [InlineData("tcp://0.0.0.0:99999", false)]
    public void The_agent_url_is_a_tcp_address_with_its_port(string url, bool valid)
    {
        var errors = new ClusterOptions { AgentUrl = url }.Validate();
        if (valid)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Equal($"Cluster:AgentUrl must be a tcp:// URL with an IP address and a port, like tcp://0.0.0.0:9101 (was {url})", Assert.Single(errors));
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1:0", null, null)]
    [InlineData("http://localhost:9090", null, null)]
    [InlineData("http://[::1]:9090", null, null)]
    [InlineData("http://0.0.0.0:9090", "s3cret", null)]
    [InlineData("http://0.0.0.0:9090", null, "Cluster:AdminToken is required")]
    [InlineData("http://10.1.2.3:9090", "", "Cluster:AdminToken is required")]
    [InlineData("http://127.0.0.1:9090/;http://0.0.0.0:9091", null, "Cluster:AdminToken is required")]
    [InlineData("http://localhost:9090;http://10.1.2.3:9091", null, "Cluster:AdminToken is required")]
    [InlineData("http://127.0.0.1:9090;https://127.0.0.1:9091", null, "Cluster:AdminUrl must be an http:// URL")]
    [InlineData(";", null, "Cluster:AdminUrl must be an http:// URL")]
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

    [Fact]
    public void The_admin_token_file_is_read_and_checked()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, " s3cret\n");
            var options = new ClusterOptions { AdminUrl = "http://0.0.0.0:9090", AdminTokenFile = file };
            Assert.Empty(options.Validate());
            Assert.Equal("s3cret", options.ReadAdminToken());

            Assert.Contains("Cluster:AdminToken and Cluster:AdminTokenFile are both set; set one", new ClusterOptions { AdminUrl = "http://0.0.0.0:9090", AdminTokenFile = file, AdminToken = "other" }.Validate());
            File.WriteAllText(file, "\n");
            Assert.Contains(options.Validate(), error => error.StartsWith($"Cluster:AdminTokenFile ({file}) is empty", StringComparison.Ordinal));
            File.Delete(file);
            Assert.Contains(options.Validate(), error => error.StartsWith("Cluster:AdminTokenFile cannot be read: ", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Each of <paramref name="settings"/> starts one of the errors.</summary>
    private static void AssertNamed(IEnumerable<string> errors, params string[] settings) =>
        Assert.All(settings, setting => Assert.Contains(errors, error => error.StartsWith(setting, StringComparison.Ordinal)));

    [Fact]
    public void Affinity_needs_RoundRobin_scheduling_and_a_known_mode()
    {
        Assert.Empty(new ClusterOptions { Affinity = AffinityMode.ConnectionToken }.Validate());
        Assert.Empty(new ClusterOptions { Affinity = AffinityMode.None, Scheduling = SchedulingMode.Shared }.Validate());
        Assert.Contains(
            new ClusterOptions { Affinity = AffinityMode.ClientIp, Scheduling = SchedulingMode.Shared }.Validate(),
            error => error.StartsWith("Cluster:Affinity needs Cluster:Scheduling=RoundRobin", StringComparison.Ordinal));
        Assert.Contains(new ClusterOptions { Affinity = (AffinityMode)7 }.Validate(), error => error.StartsWith("Cluster:Affinity must be None, ConnectionToken or ClientIp", StringComparison.Ordinal));
    }
}
