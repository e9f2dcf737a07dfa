using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Never drop a request the cluster could keep: reload, graceful stop, recycling under continuous load with every
/// failure counted; hang detection and crash loops with real processes.
/// </summary>
public class SupervisionTests
{
    private const int SIGHUP = 1;
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("RoundRobin", false)]
    [InlineData("Shared", false)]
    [InlineData("ReusePort", true)]
    public async Task A_rolling_reload_under_load_fails_no_request_and_replaces_every_worker(string scheduling, bool newConnectionPerRequest)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2);
        var original = await cluster.ReadyPidsAsync();
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 16, newConnectionPerRequest);
        await load.WaitForSuccessesAsync(300, Deadline);

        cluster.Signal(SIGHUP);
        var current = await cluster.WaitForReadyPidsAsync(
            pids => pids.Count == 2 && !pids.Intersect(original).Any() && cluster.ChildPids().Count == 2, "two new workers and no old one", Deadline);
        await load.WaitForSuccessesAsync(load.Succeeded + 300, Deadline);
        var report = await load.StopAsync();

        report.AssertNoneFailed();
        Assert.Equal(0, report.Refused);
        Assert.Contains(report.ResponsesByPid.Keys, pid => current.Contains(pid));
        Assert.Contains(report.ResponsesByPid.Keys, pid => original.Contains(pid));
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    [InlineData("ReusePort")]
    public async Task Sigterm_under_load_finishes_in_flight_requests_fails_none_and_exits_0(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2);
        var workers = cluster.ChildPids();
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 16);
        await load.WaitForSuccessesAsync(300, Deadline);
        using var slowClient = new HttpClient { BaseAddress = cluster.BaseAddress, Timeout = Deadline };
        using var slow = await slowClient.GetAsync("/slow/1500", HttpCompletionOption.ResponseHeadersRead);
        var slowBody = new StreamReader(await slow.Content.ReadAsStreamAsync());
        Assert.StartsWith("started in", await slowBody.ReadLineAsync());

        // The slow request is now in flight in a worker; the stop must let it finish.
        cluster.Signal(SIGTERM);
        Assert.StartsWith("finished in", await slowBody.ReadLineAsync());
        Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
        var report = await load.StopAsync();

        report.AssertNoneFailed();
        Assert.All(workers, pid => Assert.False(ProcessTree.IsAlive(pid), $"worker {pid} outlived the primary"));
    }

    [Fact]
    public async Task Sigterm_in_a_respawn_gap_serves_the_held_connection_and_exits_0()
    {
        // Issue 11, bug 1. A death younger than MinUptime is early, so even the last worker's replacement waits out the
        // whole RestartDelay: a gap of a minute, far longer than the test, in which only the stop can start a worker.
        var drainTimeout = TimeSpan.FromSeconds(10);
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: 1,
            environment: new Dictionary<string, string>
            {
                ["Cluster__MinUptime"] = "01:00:00",
                ["Cluster__RestartDelay"] = "00:01:00",
                ["Cluster__MaxRestartDelay"] = "00:01:00",
                ["Cluster__DrainTimeout"] = drainTimeout.ToString(),
            });
        var victim = (await cluster.ReadyPidsAsync()).Single();
        ProcessTree.Kill(victim, SIGKILL);
        await cluster.WaitForStatusAsync(
            status => status.Restarts == 1 && status.Workers.Count == 0, "the worker's death seen and its respawn put off", Deadline);

        // With no worker the primary accepts the connection and holds it. A raw socket, not HttpClient: HttpClient retries
        // a request whose connection closes with no response, which would hide what happened to this one.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(cluster.BaseAddress.Host, cluster.BaseAddress.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
        var reply = ReadReplyAsync(socket);
        await cluster.WaitForStatusAsync(status => status.QueuedConnections == 1 && status.Workers.Count == 0, "the connection held in the primary", Deadline);

        var clock = Stopwatch.StartNew();
        cluster.Signal(SIGTERM);
        var exitCode = await cluster.WaitForExitAsync(Deadline);
        var stoppedIn = clock.Elapsed;
        var answer = await reply.WaitAsync(Deadline);

        // Before the fix: the held connection closed with no answer and exit 1, after DrainTimeout + 2 s.
        var log = string.Join('\n', cluster.Lines.TakeLast(30));
        Assert.True(answer.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal), $"the held request got {answer}\n{log}");
        Assert.True(exitCode == 0, $"exit code {exitCode} after {stoppedIn.TotalSeconds:F1} s\n{log}");
        var server = int.Parse(Regex.Match(answer, @"hello from (\d+)").Groups[1].Value);
        Assert.Equal(new[] { victim, server }.Order(), cluster.StartedWorkerPids().Order());
        Assert.True(stoppedIn < drainTimeout, $"the stop took {stoppedIn.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task A_primary_started_with_sigchld_ignored_replaces_a_killed_worker_knowing_how_it_died()
    {
        // An ignored SIGCHLD survives exec, so this is what a supervisor or shell that ignores it hands on.
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2, launcher: ["env", "--ignore-signal=CHLD"]);
        var original = await cluster.ReadyPidsAsync();
        ProcessTree.Kill(original[0], SIGKILL);

        // Before the fix: waitid failed with ECHILD on the reaper thread and the primary aborted (exit 134).
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Contains(original[0]), "a replacement for the killed worker", Deadline);
        await cluster.WaitForLineAsync(line => line.Contains($"(pid {original[0]}) killed by signal SIGKILL", StringComparison.Ordinal), Deadline);
        Assert.False(cluster.HasExited);
    }

    [Fact]
    public async Task A_replacement_gets_its_share_of_keep_alive_clients()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2);
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 16);
        await load.WaitForSuccessesAsync(300, Deadline);
        var original = await cluster.ReadyPidsAsync();
        var victim = original[0];
        ProcessTree.Kill(victim, SIGKILL);
        var replacement = (await cluster.WaitForReadyPidsAsync(pids => pids.Except(original).Count() == 1, "a replacement", Deadline)).Except(original).Single();

        // Every surviving keep-alive connection is on the other worker; only shedding brings clients to the new one.
        await Poll.UntilAsync(() => load.ResponsesFrom(replacement) >= 500, Deadline, "answers from the replacement");
        var report = await load.StopAsync();
        Assert.InRange(report.Failed, 0, 16);
    }

    [Fact]
    public async Task A_hung_worker_is_detected_killed_and_replaced()
    {
        await using var cluster = await StartRoundRobinAsync(("Cluster__HeartbeatInterval", "00:00:00.5"), ("Cluster__HeartbeatTimeout", "00:00:03"));
        var original = await cluster.ReadyPidsAsync();
        using var client = new AppClient(cluster.BaseAddress);
        var victim = int.Parse((await client.GetAsync("/hang")).Split(' ')[1]);

        await cluster.WaitForLineAsync(line => line.Contains($"(pid {victim}) is hung: no heartbeat for"), Deadline);
        await cluster.WaitForLineAsync(line => line.Contains($"(pid {victim}) killed by signal SIGKILL (hung); starting a replacement"), Deadline);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Contains(victim), "a replacement for the hung worker", Deadline);
        Assert.False(ProcessTree.IsAlive(victim));
        Assert.Equal(2, cluster.ChildPids().Count);
    }

    [Fact]
    public async Task Workers_that_cannot_start_back_off_then_the_primary_gives_up_with_exit_code_3()
    {
        using var release = new ReleaseFile("broken");
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: 2,
            environment: new Dictionary<string, string>
            {
                ["SEED_RELEASE_FILE"] = release.Path,
                ["Cluster__CrashLoopLimit"] = "3",
            },
            waitUntilReady: false);

        Assert.Equal(3, await cluster.WaitForExitAsync(Deadline));
        Assert.Contains(cluster.Lines, line => line.Contains("Crash loop: more than 3 workers died") && line.Contains("no worker ever became ready"));
        Assert.Contains(cluster.Lines, line => line.Contains("starting a replacement in 100 ms"));
        Assert.Contains(cluster.Lines, line => line.Contains("starting a replacement in 200 ms"));

        // Bounded: the two first workers and at most one restart per early death before the limit.
        var started = cluster.StartedWorkerPids();
        Assert.InRange(started.Count, 4, 2 + 3);

        // What users need to see in a crash loop: every crashed worker's stack trace, the last one's included.
        Assert.All(started, pid => Assert.Contains(
            cluster.Lines,
            line => line.Contains($"pid {pid}] Unhandled exception. System.InvalidOperationException: release 'broken' cannot start")));
    }

    [Fact]
    public async Task A_reload_deploys_from_disk_and_a_bad_deploy_is_aborted_while_the_old_workers_serve_on()
    {
        using var release = new ReleaseFile("v1");
        await using var cluster = await StartRoundRobinAsync(("SEED_RELEASE_FILE", release.Path), ("Cluster__CrashLoopLimit", "3"));
        using var client = new AppClient(cluster.BaseAddress);
        Assert.StartsWith("release v1", await client.GetAsync("/release"));
        var first = await cluster.ReadyPidsAsync();

        release.Deploy("v2");
        cluster.Signal(SIGHUP);
        await cluster.WaitForReadyPidsAsync(
            pids => pids.Count == 2 && !pids.Intersect(first).Any() && cluster.ChildPids().Count == 2, "two workers of the new release", Deadline);
        for (var i = 0; i < 4; i++)
        {
            Assert.StartsWith("release v2", await client.GetAsync("/release"));
        }

        var serving = await cluster.ReadyPidsAsync();
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 8);
        release.Deploy("broken");
        cluster.Signal(SIGHUP);
        await cluster.WaitForLineAsync(line => line.Contains("Rolling reload aborted after replacing 0 workers"), Deadline);
        await load.WaitForSuccessesAsync(load.Succeeded + 200, Deadline);
        (await load.StopAsync()).AssertNoneFailed();
        Assert.Equal(serving.Order(), (await cluster.ReadyPidsAsync()).Order());
        Assert.StartsWith("release v2", await client.GetAsync("/release"));

        // A crash loop with a healthy worker left: restarts stop, the primary and the survivor stay up.
        ProcessTree.Kill(serving[0], SIGKILL);
        await cluster.WaitForLineAsync(line => line.Contains("Crash loop:") && line.Contains("1 workers keep serving"), Deadline);
        Assert.False(cluster.HasExited);
        Assert.Equal(serving[1], await client.HelloPidAsync());
        Assert.Single(cluster.ChildPids());
    }

    [Fact]
    public async Task A_worker_over_its_memory_limit_is_replaced_without_failed_requests()
    {
        await using var cluster = await StartRoundRobinAsync(("Cluster__MaxMemoryMb", "400"), ("Cluster__RecycleMinLifetime", "00:00:01"));
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 8);
        await load.WaitForSuccessesAsync(200, Deadline);
        using var client = new AppClient(cluster.BaseAddress);
        var leaker = int.Parse((await client.GetAsync("/leak/500")).Split(' ')[2].TrimEnd(':'));

        await cluster.WaitForLineAsync(line => line.Contains($"(pid {leaker}) exited cleanly (recycled: memory)"), Deadline);
        await load.WaitForSuccessesAsync(load.Succeeded + 200, Deadline);
        (await load.StopAsync()).AssertNoneFailed();
        Assert.Equal(2, (await cluster.ReadyPidsAsync()).Count);
        Assert.DoesNotContain(leaker, cluster.ChildPids());
    }

    [Fact]
    public async Task Workers_past_their_request_limit_are_replaced_one_at_a_time_without_failed_requests()
    {
        await using var cluster = await StartRoundRobinAsync(
            ("Cluster__MaxRequests", "500"),
            ("Cluster__RecycleMinLifetime", "00:00:01"),
            ("Cluster__HeartbeatInterval", "00:00:00.5"),
            ("Cluster__HeartbeatTimeout", "00:00:10"));
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 8);
        var mostProcesses = 0;
        await Poll.UntilAsync(
            () =>
            {
                mostProcesses = Math.Max(mostProcesses, cluster.ChildPids().Count);
                return cluster.StartedWorkerPids().Count >= 2 + 3;
            },
            TimeSpan.FromSeconds(60),
            "three replacement workers");
        var report = await load.StopAsync();

        report.AssertNoneFailed();
        Assert.Equal(0, (await cluster.StatusAsync()).Restarts); // planned replacements: none died unasked
        Assert.InRange(mostProcesses, 2, 3);
        Assert.True(report.ResponsesByPid.Count >= 4, $"answers came from {report.ResponsesByPid.Count} workers");
    }

    /// <summary>Everything the server sends until it closes; a reset or an empty reply says so instead.</summary>
    private static async Task<string> ReadReplyAsync(Socket socket)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            var text = await reader.ReadToEndAsync();
            return text.Length == 0 ? "no reply: the connection was closed" : text;
        }
        catch (IOException error)
        {
            return $"no reply: {error.InnerException?.Message ?? error.Message}";
        }
    }

    /// <summary>A 2-worker RoundRobin cluster with these environment settings, every worker ready.</summary>
    private static Task<TestCluster> StartRoundRobinAsync(params (string Name, string Value)[] settings) =>
        TestCluster.StartAsync("RoundRobin", workers: 2, environment: settings.ToDictionary(setting => setting.Name, setting => setting.Value));


    /// <summary>The test app's "release" file (SEED_RELEASE_FILE): what a worker reads at start, standing in for a deploy.</summary>
    private sealed class ReleaseFile : IDisposable
    {
        public ReleaseFile(string release)
        {
            Path = System.IO.Path.GetTempFileName();
            Deploy(release);
        }

        public string Path { get; }

        public void Deploy(string release) => File.WriteAllText(Path, release);

        public void Dispose() => File.Delete(Path);
    }
}
