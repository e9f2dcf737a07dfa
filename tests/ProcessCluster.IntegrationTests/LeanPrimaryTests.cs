namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Cluster:LeanPrimary: the in-app primary binds the app's endpoints with the app's Kestrel, then re-executes itself
/// in place as a primary that runs the supervisor alone. Real processes, real sockets, real HTTP.
/// </summary>
public partial class LeanPrimaryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_in_app_primary_hands_over_in_place_and_the_lean_one_serves_the_endpoint_from_code_replaces_a_killed_worker_and_drains_on_sigterm()
    {
        // The endpoint is configured in the app's code only: the app's host is what binds it.
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, urls: null, environment: new Dictionary<string, string> { ["Cluster__LeanPrimary"] = "true", ["TestApp__ListenInCode"] = "true" });
        var pid = cluster.PrimaryPid;
        await cluster.WaitForLineAsync(line => line.Contains($"Lean primary: pid {pid} runs the supervisor alone on 1 listening socket", StringComparison.Ordinal), Deadline);
        Assert.Equal(1, cluster.CountLines($"Handing over to a lean primary: pid {pid}"));

        // The hand-over happened: the app's host is gone from the primary (it maps no ASP.NET Core assembly), while each
        // worker, the app, maps them.
        var pids = await cluster.ReadyPidsAsync();
        Assert.Equal(2, pids.Count);
        Assert.Empty(AspNetCoreAssemblies(pid));
        Assert.Contains("Microsoft.AspNetCore.Routing.dll", AspNetCoreAssemblies(pids[0]));
        Assert.All(pids, worker => Assert.DoesNotContain(ProcessTree.Environment(worker), variable => variable.Key.StartsWith("PROCESSCLUSTER_LEAN_", StringComparison.Ordinal) || variable.Key == "DOTNET_STARTUP_HOOKS"));

        var endpoint = new Uri(Assert.Single(cluster.Urls).Replace("://+:", "://127.0.0.1:", StringComparison.Ordinal));
        Assert.NotEqual(0, endpoint.Port);
        using var client = new AppClient(cluster.BaseAddress);
        await Poll.UntilAsync(async () => await client.HelloPidAsync() == pids[0] ? "" : null, Deadline, $"worker {pids[0]} answering");
        await Poll.UntilAsync(async () => await client.HelloPidAsync() == pids[1] ? "" : null, Deadline, $"worker {pids[1]} answering");

        ProcessTree.Kill(pids[0]);
        var replacement = (await cluster.WaitForReadyPidsAsync(now => now.Count == 2 && !now.Contains(pids[0]), "a replacement worker", Deadline)).Single(worker => worker != pids[1]);
        await Poll.UntilAsync(async () => await client.HelloPidAsync() == replacement ? "" : null, Deadline, "the replacement answering");

        // A request in flight when SIGTERM comes is finished before its worker exits, and the primary exits 0.
        using var slowClient = new HttpClient { BaseAddress = cluster.BaseAddress, Timeout = Deadline };
        using var slow = await slowClient.GetAsync("/slow/1000", HttpCompletionOption.ResponseHeadersRead);
        var slowBody = new StreamReader(await slow.Content.ReadAsStreamAsync());
        Assert.StartsWith("started in", await slowBody.ReadLineAsync());
        cluster.Signal(15);
        Assert.StartsWith("finished in", await slowBody.ReadLineAsync());
        Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
        Assert.All(pids.Append(replacement), worker => Assert.False(ProcessTree.IsAlive(worker), $"worker {worker} outlived the primary"));
    }

    /// <summary>
    /// Started with QUIT ignored (a shell's background job): the in-app primary catches it, and the exec leaves a caught
    /// signal at its default, so the lean primary takes it too.
    /// </summary>
    [Fact]
    public async Task A_lean_primary_started_with_quit_ignored_still_stops_fast_on_quit()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: 1,
            environment: new Dictionary<string, string> { ["Cluster__LeanPrimary"] = "true" },
            launcher: ["bash", "-c", "trap '' QUIT; exec \"$@\"", "bash"]);
        await cluster.WaitForLineAsync(line => line.Contains("runs the supervisor alone", StringComparison.Ordinal), Deadline);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 1, "the worker ready", Deadline);
        var workers = cluster.ChildPids();

        cluster.Signal(3); // SIGQUIT
        await cluster.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.All(workers, pid => Assert.False(ProcessTree.IsAlive(pid)));
    }

    /// <summary>
    /// A socket passed by systemd (LISTEN_FDS, descriptor 3) goes through the hand-over as systemd's: served, and left
    /// listening at the stop, so what arrives then waits for the next start. And the admin endpoint is served.
    /// </summary>
    [Fact]
    public async Task The_lean_primary_serves_a_socket_systemd_passed_leaves_it_listening_at_the_stop_and_serves_the_admin_endpoint()
    {
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(16);
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndPoint!).Port}";
        var fd = (int)listener.SafeHandle.DangerousGetHandle();
        string[] launcher = ["bash", "-c", $"export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$@\" 3<&{fd} {fd}<&-", "bash"];
        Assert.Equal(0, fcntl(fd, FSetFd, 0));
        TestCluster cluster;
        try
        {
            cluster = await TestCluster.StartAsync(
                "RoundRobin", workers: 1, urls: url, launcher: launcher,
                environment: new Dictionary<string, string> { ["Cluster__LeanPrimary"] = "true", ["Cluster__AdminUrl"] = "http://127.0.0.1:0" });
        }
        finally
        {
            Assert.Equal(0, fcntl(fd, FSetFd, FdCloexec));
        }

        await using (cluster)
        {
            await cluster.WaitForLineAsync(line => line.Contains($"Lean primary: pid {cluster.PrimaryPid} runs", StringComparison.Ordinal), Deadline);
            using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync(), Timeout = Deadline };
            await Poll.UntilAsync(
                () => MetricsTests.Parse(admin.GetStringAsync("/metrics").GetAwaiter().GetResult()).GetValueOrDefault("processcluster_workers{state=\"ready\"}") == 1,
                Deadline,
                "1 ready worker in /metrics");
            Assert.Contains($"\"pid\":{cluster.PrimaryPid}", await admin.GetStringAsync("/api/status"));
            using var client = new AppClient(new Uri(url));
            Assert.StartsWith("hello from ", await client.GetAsync("/hello"));

            cluster.Signal(15);
            Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
            using var late = new System.Net.Sockets.TcpClient();
            await late.ConnectAsync(System.Net.IPAddress.Loopback, ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port).WaitAsync(Deadline);
        }
    }

    /// <summary>
    /// Cluster:LeanPrimaryProgram: the hand-over executes the native dotnet-cluster in place (no runtime in the primary
    /// at all), which runs the app's command line as its workers; SIGUSR2 runs the app's host again, which hands over to
    /// the native program again and it adopts the same workers; SIGTERM drains and exits 0.
    /// </summary>
    [Fact]
    public async Task A_native_program_takes_over_in_place_runs_the_app_as_its_workers_and_after_sigusr2_adopts_them_again()
    {
        var native = StandalonePrimaryTests.NativePrimary();
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__LeanPrimary"] = "true", ["Cluster__LeanPrimaryProgram"] = native });
        var pid = cluster.PrimaryPid;
        await cluster.WaitForLineAsync(line => line.Contains($"Lean primary: pid {pid} runs", StringComparison.Ordinal), Deadline);
        Assert.Equal(native, new FileInfo($"/proc/{pid}/exe").LinkTarget);
        Assert.DoesNotContain(File.ReadAllLines($"/proc/{pid}/maps"), line => line.EndsWith("libcoreclr.so", StringComparison.Ordinal));

        var before = await cluster.StatusAsync();
        var workers = TestCluster.ReadyPids(before);
        Assert.Equal(2, workers.Count);
        Assert.All(workers, worker => Assert.Contains("Microsoft.AspNetCore.Routing.dll", AspNetCoreAssemblies(worker)));
        Assert.All(workers, worker => Assert.DoesNotContain(ProcessTree.Environment(worker), variable => variable.Key.StartsWith("PROCESSCLUSTER_LEAN_", StringComparison.Ordinal)));
        using var client = new AppClient(cluster.BaseAddress);
        Assert.Contains(await client.HelloPidAsync(), workers);

        cluster.Signal(SIGUSR2);
        await cluster.WaitForLineAsync(line => line.Contains("Upgraded in place", StringComparison.Ordinal), Deadline);
        var after = await cluster.WaitForStatusAsync(
            status => status.StartedAt != before.StartedAt && TestCluster.ReadyPids(status).Count == workers.Count, "the native program's status after the upgrade", Deadline);
        Assert.Equal(pid, after.Pid);
        Assert.Equal(workers.Order(), TestCluster.ReadyPids(after).Order());
        Assert.Equal(native, new FileInfo($"/proc/{pid}/exe").LinkTarget);
        Assert.Contains(await client.HelloPidAsync(), workers);

        cluster.Signal(15);
        Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
    }

    private const int SIGUSR2 = 12;
    private const int FSetFd = 2;
    private const int FdCloexec = 1;

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    /// <summary>The ASP.NET Core assemblies <paramref name="pid"/> maps (Microsoft.Extensions.* come from the same folder and are not counted).</summary>
    private static List<string> AspNetCoreAssemblies(int pid) => File.ReadAllLines($"/proc/{pid}/maps")
        .Select(line => Path.GetFileName(line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last()))
        .Where(file => file.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal) && file.EndsWith(".dll", StringComparison.Ordinal))
        .Distinct()
        .ToList();
}
