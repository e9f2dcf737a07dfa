namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The primary upgrading itself in place (SIGUSR2, `dotnet-cluster upgrade`): it re-executes its own command line
/// with the same pid and keeps its workers, or rolls them when the code on disk changed; a new build that fails its
/// --check leaves the running primary serving. All under load: not one request fails.
/// </summary>
public class UpgradeTests
{
    private const int SIGUSR2 = 12;
    private const string Upgraded = "Upgraded in place";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>With Cluster:LeanPrimary the new program is the app's host again, which hands over to a lean primary that adopts the workers.</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Sigusr2_under_load_ends_with_the_same_primary_pid_and_the_same_workers_and_no_failed_request(bool standalonePrimary, bool leanPrimary)
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            standalonePrimary: standalonePrimary ? ClusterCli.Assembly : null,
            environment: leanPrimary ? new Dictionary<string, string> { ["Cluster__LeanPrimary"] = "true" } : null);
        var before = await cluster.StatusAsync();
        await using var load = LoadGenerator.Start(cluster.BaseAddress, concurrency: 16);
        await load.WaitForSuccessesAsync(200, Deadline);

        cluster.Signal(SIGUSR2);
        await Poll.UntilAsync(() => cluster.CountLines(Upgraded) == 1, Deadline, "the new program to adopt the workers", () => string.Join('\n', cluster.Lines.TakeLast(30)));
        // An adopted worker counts as ready once the new program has its report: wait for as many as before, then
        // compare which they are (a worker replaced instead of adopted still fails).
        var after = await cluster.WaitForStatusAsync(
            status => status.StartedAt != before.StartedAt && TestCluster.ReadyPids(status).Count == TestCluster.ReadyPids(before).Count,
            "the new program's status with every worker ready",
            Deadline);

        Assert.Equal(before.Pid, after.Pid);
        Assert.Equal(TestCluster.ReadyPids(before).Order(), TestCluster.ReadyPids(after).Order());
        var served = load.Succeeded;
        await load.WaitForSuccessesAsync(served + 200, Deadline);
        (await load.StopAsync()).AssertNoneFailed();
        if (leanPrimary)
        {
            Assert.Equal(2, cluster.CountLines($"Lean primary: pid {before.Pid} runs"));
        }
    }

    /// <summary>
    /// SIGUSR2 again and again while an upgrade runs: during the new build's check and the workers' pause the primary
    /// says per signal that an upgrade is already in progress, and from the exec until the new program handles the
    /// signal the kernel drops it (its default action killed the primary). The one upgrade completes, same pid.
    /// </summary>
    [Fact]
    public async Task Sigusr2_again_while_an_upgrade_runs_is_ignored_and_the_upgrade_completes()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1);
        var before = await cluster.StatusAsync();

        cluster.Signal(SIGUSR2);
        // Until the new program takes its socket over, early in its start and before it handles signals.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (cluster.CountLines("passed by the previous program") == 0)
        {
            Assert.True(clock.Elapsed < Deadline && !cluster.HasExited, string.Join('\n', cluster.Lines.TakeLast(30)));
            await Task.Delay(10);
            cluster.Signal(SIGUSR2);
        }

        await Poll.UntilAsync(() => cluster.CountLines(Upgraded) == 1, Deadline, "the new program to adopt the workers", () => string.Join('\n', cluster.Lines.TakeLast(30)));
        var after = await cluster.WaitForStatusAsync(status => status.StartedAt != before.StartedAt, "the new program's status", Deadline);
        Assert.Equal(before.Pid, after.Pid);
        Assert.True(cluster.CountLines("SIGUSR2 ignored: upgrade already in progress") > 0, string.Join('\n', cluster.Lines.TakeLast(30)));
        Assert.False(cluster.HasExited);

        // Ignored across the exec, SIGUSR2 is caught again by the new program: the next upgrade can be asked for.
        await Poll.UntilAsync(() => Caught(after.Pid, SIGUSR2), Deadline, "the new program to catch SIGUSR2", () => File.ReadAllText($"/proc/{after.Pid}/status"));
    }

    /// <summary>Whether the process has a handler for <paramref name="signal"/> (SigCgt in /proc/pid/status).</summary>
    private static bool Caught(int pid, int signal)
    {
        var mask = File.ReadLines($"/proc/{pid}/status").Single(line => line.StartsWith("SigCgt:", StringComparison.Ordinal))["SigCgt:".Length..].Trim();
        return ((ulong.Parse(mask, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) >> (signal - 1)) & 1) == 1;
    }

    [Fact]
    public async Task After_an_upgrade_the_inherited_unix_socket_serves_and_a_stop_removes_its_file()
    {
        var folder = Directory.CreateTempSubdirectory("pc-upgrade-");
        var socket = Path.Combine(folder.FullName, "app.sock");
        try
        {
            await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1, urls: $"http://127.0.0.1:0;http://unix:{socket}");
            var before = await cluster.StatusAsync();

            cluster.Signal(SIGUSR2);
            await Poll.UntilAsync(() => cluster.CountLines(Upgraded) == 1, Deadline, "the new program to adopt the workers", () => string.Join('\n', cluster.Lines.TakeLast(30)));
            await cluster.WaitForStatusAsync(status => status.StartedAt != before.StartedAt, "the new program's status", Deadline);
            Assert.StartsWith("release ", (await Curl.GetAsync("http://localhost/release", "--unix-socket", socket)).Body);

            // The socket came from the previous program of this process, which is gone: the file is this program's to remove.
            cluster.Signal(15);
            Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
            Assert.False(File.Exists(socket), "the socket file left behind");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_bad_new_build_fails_its_check_and_the_old_primary_serves_on_then_a_good_one_upgrades_it_and_rolls_the_workers()
    {
        using var layout = new ReleaseLayout();
        layout.Add("v1");
        layout.Add("v2");
        layout.Add("v3");
        layout.Break("v3");
        layout.Point("v1");
        await using var cluster = await layout.StartAsync(standalone: false);
        var before = await cluster.StatusAsync();
        var pid = cluster.PrimaryPid.ToString();
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/release"), concurrency: 16);
        await load.WaitForSuccessesAsync(100, Deadline);

        layout.Point("v3");
        var refused = await ClusterCli.RunAsync("upgrade", "--pid", pid);
        Assert.True(refused.ExitCode == 4, refused.ToString());
        Assert.Contains("upgrade failed: check: the new build failed its check: ", refused.Error);
        var unchanged = await cluster.StatusAsync();
        Assert.Equal(before.StartedAt, unchanged.StartedAt);
        Assert.Equal(TestCluster.ReadyPids(before).Order(), TestCluster.ReadyPids(unchanged).Order());
        await load.WaitForSuccessesAsync(load.Succeeded + 100, Deadline);

        layout.Point("v2");
        var upgraded = await ClusterCli.RunAsync("upgrade", "--pid", pid);
        Assert.True(upgraded.ExitCode == 0, upgraded.ToString());
        Assert.Matches($@"primary {pid} upgraded in place \(was {pid}\): \d of 2 workers kept", upgraded.Output);
        var rolled = await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Intersect(TestCluster.ReadyPids(before)).Any(), "two new workers", Deadline);
        Assert.Equal(before.Pid, (await cluster.StatusAsync()).Pid);
        using var client = new AppClient(cluster.BaseAddress);
        for (var i = 0; i < 2 * rolled.Count; i++)
        {
            Assert.StartsWith("release v2 build v2 ", await client.GetAsync("/release"));
        }

        await load.WaitForSuccessesAsync(load.Succeeded + 100, Deadline);
        (await load.StopAsync()).AssertNoneFailed();
    }
}
