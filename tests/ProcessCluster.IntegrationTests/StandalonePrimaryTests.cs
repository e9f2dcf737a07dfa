using System.Diagnostics;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// `dotnet-cluster run -- dotnet SeedDemo.dll`: a primary that is not the app, run as a managed build and as the
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
        await ServesSupervisesAndStopsAsync(await NativePrimary.Value, stopWithCli: true);

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
    }

    private static async Task ServesSupervisesAndStopsAsync(string primary, bool stopWithCli)
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" }, standalonePrimary: primary);
        using var client = new AppClient(cluster.BaseAddress);
        var pids = await cluster.ReadyPidsAsync();
        Assert.Equal(2, pids.Count);

        // The admin endpoint: Prometheus metrics and the status document, the dashboard page.
        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync(), Timeout = Deadline };
        await Poll.UntilAsync(
            () => MetricsTests.Parse(admin.GetStringAsync("/metrics").GetAwaiter().GetResult()).GetValueOrDefault("processcluster_workers{state=\"ready\"}") == 2,
            Deadline,
            "2 ready workers in /metrics");
        Assert.Contains($"\"pid\":{cluster.PrimaryPid}", await admin.GetStringAsync("/api/status"));
        Assert.Contains("<!doctype html>", await admin.GetStringAsync("/"));
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
    /// dotnet-cluster published with native AOT, once per test run, into its own artifacts folder so the solution's
    /// obj/ and bin/ stay as the build left them.
    /// </summary>
    private static readonly Lazy<Task<string>> NativePrimary = new(async () =>
    {
        var root = Path.Combine(AppContext.BaseDirectory, "artifacts", "aot");
        var project = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ClusterCli.Assembly)!, "..", "..", "..", "ProcessCluster.Cli.csproj"));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["publish", project, "-c", "Release", "-r", "linux-x64",
                     "-p:PublishAot=true", "--artifacts-path", Path.Combine(root, "build"), "-o", Path.Combine(root, "out"), "-nologo"])
        {
            start.ArgumentList.Add(argument);
        }

        using var publish = Process.Start(start)!;
        var output = publish.StandardOutput.ReadToEndAsync();
        var error = publish.StandardError.ReadToEndAsync();
        try
        {
            await publish.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        }
        catch (TimeoutException)
        {
            ProcessTree.Kill(publish.Id);
            throw;
        }

        var executable = Path.Combine(root, "out", "dotnet-cluster");
        Assert.True(publish.ExitCode == 0 && File.Exists(executable), $"native AOT publish failed:\n{await output}\n{await error}");
        return executable;
    });
}
