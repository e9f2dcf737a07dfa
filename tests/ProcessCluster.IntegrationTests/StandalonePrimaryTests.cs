namespace ProcessCluster.IntegrationTests;

/// <summary>
/// `dotnet-cluster run -- dotnet App.dll`: a primary that is not the app, run as a managed build and as the
/// native AOT executable operators would deploy, supervising real workers on real sockets.
/// </summary>
public class StandalonePrimaryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Run_serves_from_every_worker_replaces_a_killed_one_and_drains_on_sigterm() =>
        await ServesSupervisesAndStopsAsync(ClusterCli.Assembly, stopWithCli: false);

    [Fact]
    public async Task Run_published_with_native_aot_serves_supervises_has_the_admin_endpoint_and_stops_from_the_cli() =>
        await ServesSupervisesAndStopsAsync(NativePrimary(), stopWithCli: true);

    [Fact]
    public async Task Run_reads_the_cluster_settings_from_appsettings_json_in_its_content_root_as_the_app_would()
    {
        var contentRoot = Directory.CreateTempSubdirectory("processcluster-run-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(contentRoot.FullName, "appsettings.json"), """{ "Cluster": { "Workers": 3 } }""");
            await using var cluster = await TestCluster.StartAsync(
                "RoundRobin", workers: null, standalonePrimary: ClusterCli.Assembly, workingDirectory: contentRoot.FullName);
            await cluster.WaitForReadyPidsAsync(pids => pids.Count == 3, "the 3 workers appsettings.json asks for", Deadline);
            Assert.Equal(3, (await cluster.StatusAsync()).DesiredWorkers);
        }
        finally
        {
            contentRoot.Delete(recursive: true);
        }
    }

    /// <summary>Startup hooks given to dotnet-cluster run (an APM agent's, say) reach its workers: only a lean hand-over's own variables are taken out.</summary>
    [Fact]
    public async Task Run_passes_the_startup_hooks_it_was_given_on_to_its_workers()
    {
        var hook = Path.Combine(Path.GetDirectoryName(TestCluster.TestAppAssembly)!, "ProcessCluster.AspNetCore.dll");
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 1, standalonePrimary: ClusterCli.Assembly, environment: new Dictionary<string, string> { ["DOTNET_STARTUP_HOOKS"] = hook });
        var worker = Assert.Single(await cluster.ReadyPidsAsync());
        Assert.Equal(hook, ProcessTree.Environment(worker).GetValueOrDefault("DOTNET_STARTUP_HOOKS"));
    }

    /// <summary>
    /// A wrapper that forks (here coreutils' timeout) makes the app the primary's grandchild, which dying with the
    /// primary cannot cover: the worker refuses and says why on stderr (a log line would be lost to the exit).
    /// </summary>
    [Fact]
    public async Task Run_refuses_a_worker_started_through_a_wrapper_that_forks_and_says_why()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 1, waitUntilReady: false, standalonePrimary: ClusterCli.Assembly, workerWrapper: ["timeout", "60"]);
        var line = await cluster.WaitForLineAsync(text => text.Contains("through a wrapper that forks", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.Contains($"not primary {cluster.PrimaryPid}", line);
    }

    [Fact]
    public async Task Run_refuses_a_missing_command_a_bad_setting_an_unknown_program_and_a_taken_port_with_exit_2()
    {
        var noCommand = await ClusterCli.RunAsync("run", "--urls=http://127.0.0.1:0");
        Assert.Equal(2, noCommand.ExitCode);

        var badSetting = await ClusterCli.RunAsync("run", "--urls=http://127.0.0.1:0", "--Cluster:Workers=0", "--", "dotnet", TestCluster.TestAppAssembly);
        Assert.Equal(2, badSetting.ExitCode);
        Assert.Contains("Cluster:Workers must be at least 1", badSetting.Error);

        var notASetting = await ClusterCli.RunAsync("run", "--Cluster:Workers", "--", "dotnet", TestCluster.TestAppAssembly);
        Assert.Equal(2, notASetting.ExitCode);
        Assert.Contains("is not a setting like --Cluster:Workers=4", notASetting.Error);

        var unknownProgram = await ClusterCli.RunAsync("run", "--urls=http://127.0.0.1:0", "--", "no-such-program-here", "app.dll");
        Assert.Equal(2, unknownProgram.ExitCode);
        Assert.Contains("'no-such-program-here' is not on PATH", unknownProgram.Output + unknownProgram.Error);

        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var portInUse = await ClusterCli.RunAsync("run", $"--urls=http://127.0.0.1:{((System.Net.IPEndPoint)taken.LocalEndpoint).Port}", "--", "dotnet", TestCluster.TestAppAssembly);
        Assert.Equal(2, portInUse.ExitCode);
        Assert.Contains("Cannot start the cluster: Address already in use", portInUse.Output + portInUse.Error);

        // Before: the admin endpoint's own host logged its failure with a stack trace ahead of that one line.
        var adminPortInUse = await ClusterCli.RunAsync(
            "run", "--urls=http://127.0.0.1:0", $"--Cluster:AdminUrl=http://127.0.0.1:{((System.Net.IPEndPoint)taken.LocalEndpoint).Port}", "--", "dotnet", TestCluster.TestAppAssembly);
        Assert.Equal(2, adminPortInUse.ExitCode);
        Assert.Contains("Cannot start the cluster: Failed to bind to address", adminPortInUse.Output + adminPortInUse.Error);
        Assert.DoesNotContain("Exception", adminPortInUse.Output + adminPortInUse.Error, StringComparison.Ordinal);
    }

    /// <summary>In the environment, or on dotnet-cluster run's command line (exported to its workers as every other --Cluster: setting is, before the fix).</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task The_admin_token_stays_out_of_the_workers_environment(bool standalone, bool onCommandLine)
    {
        var environment = new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" };
        if (!onCommandLine)
        {
            environment["CLUSTER__ADMINTOKEN"] = "s3cret";
        }

        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: 1,
            environment: environment,
            standalonePrimary: standalone ? ClusterCli.Assembly : null,
            standaloneOptions: onCommandLine ? ["--Cluster:AdminToken=s3cret"] : null);
        var worker = Assert.Single(await cluster.ReadyPidsAsync());
        Assert.DoesNotContain(ProcessTree.Environment(worker), variable => variable.Value.Contains("s3cret", StringComparison.Ordinal));
        if (onCommandLine)
        {
            const string warning = "Cluster:AdminToken is on the command line, where any local user can read it";
            await cluster.WaitForLineAsync(line => line.Contains(warning, StringComparison.Ordinal), Deadline);
            Assert.Equal(1, cluster.CountLines(warning));
        }
        else
        {
            Assert.Equal("s3cret", ProcessTree.Environment(cluster.PrimaryPid)["CLUSTER__ADMINTOKEN"]);
        }
    }

    /// <summary>
    /// Started with QUIT ignored (a shell's background job), and with a line logged before the supervisor runs (the
    /// admin token's warning): the first write to the console starts the runtime's signal handling, which would keep
    /// QUIT ignored from then on.
    /// </summary>
    [Fact]
    public async Task Run_started_with_quit_ignored_still_stops_fast_on_quit()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: 1,
            standalonePrimary: ClusterCli.Assembly,
            launcher: ["bash", "-c", "trap '' QUIT; exec \"$@\"", "bash"],
            standaloneOptions: ["--Cluster:AdminToken=s3cret"]);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 1, "the worker ready", Deadline);
        var workers = cluster.ChildPids();

        cluster.Signal(3); // SIGQUIT
        await cluster.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.All(workers, pid => Assert.False(ProcessTree.IsAlive(pid)));
    }

    private static async Task ServesSupervisesAndStopsAsync(string primary, bool stopWithCli)
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" }, standalonePrimary: primary);
        using var client = new AppClient(cluster.BaseAddress);
        var pids = await cluster.ReadyPidsAsync();
        Assert.Equal(2, pids.Count);

        // The admin endpoint: Prometheus metrics and the status document, the dashboard page, the orchestrators' health.
        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync(), Timeout = Deadline };
        await Poll.UntilAsync(
            () => MetricsTests.Parse(admin.GetStringAsync("/metrics").GetAwaiter().GetResult()).GetValueOrDefault("processcluster_workers{state=\"ready\"}") == 2,
            Deadline,
            "2 ready workers in /metrics");
        Assert.Contains($"\"pid\":{cluster.PrimaryPid}", await admin.GetStringAsync("/api/status"));
        Assert.Contains("<!doctype html>", await admin.GetStringAsync("/"));
        Assert.Equal("live", await admin.GetStringAsync("/healthz/live"));
        Assert.Equal("ready", await admin.GetStringAsync("/healthz/ready"));
        await Poll.UntilAsync(async () => await client.HelloPidAsync() == pids[0] ? "" : null, Deadline, $"worker {pids[0]} answering");
        await Poll.UntilAsync(async () => await client.HelloPidAsync() == pids[1] ? "" : null, Deadline, $"worker {pids[1]} answering");

        // The control socket and the CLI work against it as against an in-app primary.
        var status = await ClusterCli.StatusAsync(cluster.PrimaryPid);
        Assert.Equal(pids.Order(), status.Workers.Select(worker => worker.Pid).Order());

        ProcessTree.Kill(pids[0]);
        var replacement = (await cluster.WaitForReadyPidsAsync(now => now.Count == 2 && !now.Contains(pids[0]), "a replacement worker", Deadline)).Single(pid => pid != pids[1]);
        await Poll.UntilAsync(async () => await client.HelloPidAsync() == replacement ? "" : null, Deadline, "the replacement answering");

        // A request in flight when the stop comes is finished before its worker exits.
        using var slowClient = new HttpClient { BaseAddress = cluster.BaseAddress, Timeout = Deadline };
        using var slow = await slowClient.GetAsync("/slow/1500", HttpCompletionOption.ResponseHeadersRead);
        var slowBody = new StreamReader(await slow.Content.ReadAsStreamAsync());
        Assert.StartsWith("started in", await slowBody.ReadLineAsync());
        if (stopWithCli)
        {
            var stop = await ClusterCli.RunAsync("stop", "--pid", cluster.PrimaryPid.ToString());
            Assert.True(stop.ExitCode == 0, stop.ToString());
        }
        else
        {
            cluster.Signal(15);
        }

        Assert.StartsWith("finished in", await slowBody.ReadLineAsync());
        Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
        Assert.All(pids.Append(replacement), pid => Assert.False(ProcessTree.IsAlive(pid), $"worker {pid} outlived the primary"));
    }

    /// <summary>
    /// dotnet-cluster published with native AOT by the README's test command (.ci/test), before the tests: publishing
    /// takes minutes, and is the build's job, not a test's. Missing or older than the managed build it would stand
    /// for, it fails the test: a native primary that was not tested must not pass.
    /// </summary>
    internal static string NativePrimary()
    {
        const string publish = "`dotnet publish src/ProcessCluster.Cli -c Release -r linux-x64 -p:PublishAot=true "
            + "--artifacts-path artifacts/aot-cli-build -o artifacts/aot-cli`, or run the tests with `bash .ci/test`";
        var executable = new FileInfo(Path.Combine(TestCluster.RepositoryRoot, "artifacts", "aot-cli", "dotnet-cluster"));
        Assert.True(executable.Exists, $"{executable.FullName} is missing: publish it with {publish}.");
        var build = new DirectoryInfo(Path.GetDirectoryName(ClusterCli.Assembly)!).GetFiles("*.dll").Max(file => file.LastWriteTimeUtc);
        Assert.True(
            executable.LastWriteTimeUtc >= build,
            $"{executable.FullName} ({executable.LastWriteTimeUtc:u}) is older than the build of dotnet-cluster ({build:u}): publish it again with {publish}.");
        return executable.FullName;
    }
}
