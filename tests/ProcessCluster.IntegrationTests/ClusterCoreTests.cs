using System.Net.Sockets;
using System.Text;

namespace ProcessCluster.IntegrationTests;

/// <summary>The cluster core against the test app: real processes, real sockets, real HTTP, in both scheduling modes.</summary>
public class ClusterCoreTests
{
    private static readonly TimeSpan ReplacementDeadline = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task Answers_come_from_at_least_two_worker_processes(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2);
        using var client = new AppClient(cluster.BaseAddress);
        var pids = new HashSet<int>();
        for (var i = 0; i < 400 && pids.Count < 2; i++)
        {
            pids.Add(await client.HelloPidAsync());
        }

        Assert.Equal(2, pids.Count);
        Assert.Subset(cluster.ChildPids().ToHashSet(), pids);
        Assert.DoesNotContain(cluster.PrimaryPid, pids);
        var cpu = await client.GetAsync("/");
        Assert.Matches(@"^response from: \d+$", cpu);
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public Task Kill_process_route_is_logged_and_a_replacement_answers(string scheduling) =>
        AWorkerDeathIsLoggedAndRepairedAsync(
            scheduling,
            async (_, client) =>
            {
                var answer = await client.GetAsync("/kill-process");
                var victim = int.Parse(answer.Split(' ')[1]);
                Assert.Equal($"process: {victim} died", answer);
                return victim;
            },
            victim => $"(pid {victim}) exited cleanly; starting a replacement");

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public Task Sigkill_of_a_worker_is_logged_by_signal_name_and_a_replacement_answers(string scheduling) =>
        AWorkerDeathIsLoggedAndRepairedAsync(
            scheduling,
            async (cluster, _) =>
            {
                var victim = (await cluster.ReadyPidsAsync())[0];
                ProcessTree.Kill(victim);
                return victim;
            },
            victim => $"(pid {victim}) killed by signal SIGKILL; starting a replacement");

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public Task A_workers_exit_code_is_reported(string scheduling) =>
        AWorkerDeathIsLoggedAndRepairedAsync(
            scheduling,
            async (_, client) => int.Parse((await client.GetAsync("/exit/42")).Split(' ')[1]),
            victim => $"(pid {victim}) exited with error code 42; starting a replacement");

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task Sigkill_of_the_primary_leaves_no_worker_alive_after_one_second(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2);
        var workers = cluster.ChildPids();
        Assert.Equal(2, workers.Count);
        using var client = new AppClient(cluster.BaseAddress, TimeSpan.FromSeconds(30));
        var spinning = client.GetAsync("/spin/20000");
        // Busy: a worker has reported the request in flight (load reports come twice a second).
        await cluster.WaitForStatusAsync(status => status.Workers.Any(worker => worker.InFlight > 0), "a busy worker", TimeSpan.FromSeconds(30));

        ProcessTree.Kill(cluster.PrimaryPid);
        var killedAt = DateTime.UtcNow;
        await Poll.UntilAsync(() => workers.All(pid => !ProcessTree.IsAlive(pid)), TimeSpan.FromSeconds(1), "worker exit");
        Assert.True(DateTime.UtcNow - killedAt < TimeSpan.FromSeconds(1));
        await Assert.ThrowsAnyAsync<Exception>(() => spinning);
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task Two_endpoints_on_port_zero_each_get_one_real_port_shared_by_all_workers(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2, urls: "http://127.0.0.1:0;http://127.0.0.1:0");
        Assert.Equal(2, cluster.Urls.Count);
        var ports = cluster.Urls.Select(url => new Uri(url).Port).ToList();
        Assert.DoesNotContain(0, ports);
        Assert.NotEqual(ports[0], ports[1]);

        foreach (var port in ports)
        {
            using var client = new AppClient(new Uri($"http://127.0.0.1:{port}"));
            var pids = new HashSet<int>();
            for (var i = 0; i < 400 && pids.Count < 2; i++)
            {
                pids.Add(await client.HelloPidAsync());
            }

            Assert.Equal(2, pids.Count);
        }
    }

    [Fact]
    public async Task Sequential_new_connections_split_evenly_in_round_robin()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2);
        using var client = new AppClient(cluster.BaseAddress);
        var counts = new Dictionary<int, int>();
        for (var i = 0; i < 200; i++)
        {
            var pid = await client.HelloPidAsync();
            counts[pid] = counts.GetValueOrDefault(pid) + 1;
        }

        Assert.Equal([100, 100], counts.Values);
    }

    [Fact]
    public async Task While_no_worker_lives_the_primary_holds_connections_for_the_next_one()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1);
        using var client = new AppClient(cluster.BaseAddress);
        var only = (await cluster.ReadyPidsAsync()).Single();
        ProcessTree.Kill(only);
        await Poll.UntilAsync(() => !ProcessTree.IsAlive(only), TimeSpan.FromSeconds(5), "the worker's death");

        // No worker is alive now: Node would refuse these. They wait in the primary and the replacement serves them.
        var requests = Enumerable.Range(0, 5).Select(_ => client.HelloPidAsync()).ToList();
        var pids = await Task.WhenAll(requests);
        Assert.All(pids, pid => Assert.NotEqual(only, pid));
    }

    /// <summary>Workers share the cores, so they start with no thread-pool spinning, unless the operator chose a spin limit.</summary>
    [Fact]
    public async Task Workers_start_without_thread_pool_spinning_unless_the_operator_set_it()
    {
        const string spinLimit = "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit";
        await using (var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1))
        {
            var worker = Assert.Single(await cluster.ReadyPidsAsync());
            Assert.Equal("0", ProcessTree.Environment(worker).GetValueOrDefault(spinLimit));
        }

        await using (var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1, environment: new Dictionary<string, string> { [spinLimit] = "40" }))
        {
            var worker = Assert.Single(await cluster.ReadyPidsAsync());
            Assert.Equal("40", ProcessTree.Environment(worker).GetValueOrDefault(spinLimit));
        }
    }

    [Fact]
    public async Task A_process_that_is_not_a_child_cannot_talk_on_the_primarys_channel()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 1);
        var worker = cluster.ChildPids().Single();
        // Everything a worker knows — channel name, its id and secret — stolen from its environment.
        var environment = ProcessTree.Environment(worker);
        var hello = Encoding.UTF8.GetBytes(
            $"{{\"WorkerId\":{environment["PROCESSCLUSTER_WORKER_ID"]},\"Secret\":\"{environment["PROCESSCLUSTER_SECRET"]}\"}}");

        using var intruder = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        intruder.Connect(new UnixDomainSocketEndPoint("\0" + environment["PROCESSCLUSTER_CHANNEL"]));
        var frame = new byte[6 + hello.Length];
        BitConverter.TryWriteBytes(frame, hello.Length);
        frame[4] = 1;
        hello.CopyTo(frame, 6);
        try
        {
            intruder.Send(frame);
        }
        catch (SocketException)
        {
            // Already cut off: also a refusal.
        }

        // The primary closes on it without a word: end of stream, or a reset since the hello went unread.
        intruder.ReceiveTimeout = 5000;
        try
        {
            Assert.Equal(0, intruder.Receive(new byte[64]));
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        await cluster.WaitForLineAsync(line => line.Contains($"Refused a channel connection from pid {Environment.ProcessId}"), TimeSpan.FromSeconds(30));

        using var client = new AppClient(cluster.BaseAddress);
        Assert.Equal(worker, await client.HelloPidAsync());
    }

    [Fact]
    public async Task Messages_go_both_ways_as_json_with_the_senders_identity()
    {
        // The test app's primary greets each worker on 'online'; each worker answers with the greeting and its pid.
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2);
        var workers = cluster.ChildPids();
        Assert.Equal(2, workers.Count);
        foreach (var pid in workers)
        {
            var line = await cluster.WaitForLineAsync(candidate => candidate.Contains($"(pid {pid}) says"), TimeSpan.FromSeconds(30));
            var match = System.Text.RegularExpressions.Regex.Match(line, @"Worker (\d+) \(pid (\d+)\) says (.+)$");
            Assert.True(match.Success, line);
            Assert.Equal(
                $"{{\"reply\":{{\"greeting\":\"hello\",\"worker\":{match.Groups[1].Value}}},\"pid\":{pid}}}",
                match.Groups[3].Value);
        }
    }

    /// <summary>Kills one worker of a fresh 2-worker cluster; the primary must log how it died and a replacement must answer.</summary>
    private static async Task AWorkerDeathIsLoggedAndRepairedAsync(
        string scheduling,
        Func<TestCluster, AppClient, Task<int>> killOne,
        Func<int, string> expectedLog)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2);
        using var client = new AppClient(cluster.BaseAddress);
        var original = await cluster.ReadyPidsAsync();
        var victim = await killOne(cluster, client);
        Assert.Contains(victim, original);

        await cluster.WaitForLineAsync(line => line.Contains(expectedLog(victim)), ReplacementDeadline);
        await AReplacementAnswersAsync(cluster, client, original);
    }

    private static async Task AReplacementAnswersAsync(TestCluster cluster, AppClient client, IReadOnlyList<int> original)
    {
        await Poll.UntilAsync(
            async () =>
            {
                var pid = await client.HelloPidAsync();
                return original.Contains(pid) ? null : (object)pid;
            },
            ReplacementDeadline,
            "answer from a replacement worker");
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2, "two ready workers", ReplacementDeadline);
    }
}
