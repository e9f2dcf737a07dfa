using System.Diagnostics;
using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests.NodeParity;

/// <summary>
/// Node's test-cluster-* files on disconnecting: a worker's graceful stop asked by either side, the order in which its
/// channel and servers close, a lost channel, and stopping the whole cluster; each named after its file.
/// </summary>
public class DisconnectParityTests
{
    // Node asserts: after worker.disconnect() from the primary, the worker's own 'disconnect' handler runs (it exits 42
    // from there); the primary gets 'disconnect' and 'exit', exitedAfterDisconnect is true, and the process is gone.
    // Ours is not replaced either. (The order of 'disconnect' and 'exit' is not asserted: the channel's end and the
    // reaped exit reach the primary on different threads, as in Node's test-cluster-worker-kill, #5814.)
    [Fact]
    public async Task test_cluster_worker_disconnect()
    {
        await using var cluster = await ParityCluster.StartAsync(
            new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(10) }, workerEnvironment: "TESTAPP_EXIT_CODE_ON_DISCONNECT=42");
        var worker = await cluster.ReadyWorkerAsync(1);
        worker.Disconnect();

        var exit = await cluster.EndOfAsync(worker);
        Assert.Equal((42, null), (exit.ExitCode, exit.Signal));
        Assert.True(exit.StopRequested);
        Assert.True(cluster.Single(1, "disconnect").StopRequested);

        // A replacement would be forked RestartDelay (100 ms) after the exit; a worker forked now takes longer than
        // that to be ready. So once it is, the only forks were the first worker and this one.
        var later = cluster.Primary.Fork();
        await cluster.ReadyWorkerAsync(later.Id);
        Assert.Equal([1, later.Id], cluster.Events.Where(e => e.Name == "fork").Select(e => e.WorkerId));
        Assert.Equal([later.Id], cluster.Primary.Workers.Select(w => w.Id));
    }

    // Node asserts: on disconnect, the worker's channel closes only after its server has closed, i.e. after the open
    // client connection ended.
    [Fact]
    public async Task test_cluster_worker_wait_server_close()
    {
        // DrainTimeout 20 s: a draining worker waits up to 5 s for its clients to close their connections.
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(20) });
        var worker = await cluster.ReadyWorkerAsync(1);
        using var client = await KeepAliveConnection.OpenAsync(cluster.BaseAddress);
        Assert.Equal(worker.ProcessId, client.WorkerPid);

        worker.Disconnect();
        await Poll.UntilAsync(() => worker.State == WorkerState.Draining, ParityCluster.Deadline, "the worker draining");
        // The client holds its idle connection a second; the worker's server stays open for it, and so does its channel.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.True(worker.IsConnected);
        Assert.DoesNotContain("disconnect", cluster.EventsOf(1));

        client.Close();
        var exit = await cluster.EndOfAsync(worker);
        Assert.True(cluster.Single(1, "disconnect").At > client.ClosedAt, "the channel closed before the client's connection");
        Assert.Equal((0, null), (exit.ExitCode, exit.Signal));
        Assert.True(exit.StopRequested);
    }

    // Node asserts: a disconnected worker is not force-killed: it stays alive while it has an open connection and exits
    // once that connection ends. Ours: only the drain deadline (DrainTimeout) forces; a request still in flight past
    // the clients' grace (a quarter of DrainTimeout) keeps the worker alive, is answered in full, and the worker exits 0.
    [Fact]
    public async Task test_cluster_worker_no_exit()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(4) });
        var worker = await cluster.ReadyWorkerAsync(1);
        using var http = new HttpClient { BaseAddress = cluster.BaseAddress, Timeout = ParityCluster.Deadline };
        using var slow = await http.GetAsync("/slow/2500", HttpCompletionOption.ResponseHeadersRead);
        using var body = new StreamReader(await slow.Content.ReadAsStreamAsync());
        Assert.Equal($"started in {worker.ProcessId}", await body.ReadLineAsync());

        worker.Disconnect();
        Assert.Equal($"finished in {worker.ProcessId}", await body.ReadLineAsync());
        var exit = await cluster.ExitOfAsync(1);
        Assert.Equal((0, null), (exit.ExitCode, exit.Signal));
        Assert.True(exit.StopRequested);
    }

    // Node asserts: a worker whose channel closes unexpectedly (the primary calls worker.process.disconnect()) exits at
    // once, with code 0. Differs on purpose: ours exits at once with code 1 (a worker cut off from its primary has
    // failed) and is replaced; it ends by itself, before the primary's deadline for an orphan (5 s, then SIGKILL).
    [Fact]
    public async Task test_cluster_worker_forced_exit()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1 });
        var worker = await cluster.ReadyWorkerAsync(1);
        var lostAt = Stopwatch.GetTimestamp();
        worker.Channel!.Shutdown();

        var exit = await cluster.EndOfAsync(worker);
        Assert.Equal((1, null), (exit.ExitCode, exit.Signal));
        Assert.False(exit.StopRequested);
        Assert.True(Stopwatch.GetElapsedTime(lostAt) < TimeSpan.FromSeconds(5), $"exited {Stopwatch.GetElapsedTime(lostAt).TotalSeconds:F1} s after losing its channel");
        await cluster.ReadyWorkerAsync(2);
    }

    // Node asserts: a worker-side kill() and a worker-side disconnect() both leave exitedAfterDisconnect true at
    // 'disconnect' and at 'exit', whichever of the two events comes first (nodejs/node#3238).
    // Ours: the flag says the cluster asked (StopRequested). Asked by the primary, it holds whichever side acted first:
    // a disconnect then a kill, or the worker's own stop (SIGTERM: a .NET host stops gracefully) then a disconnect.
    // Differs on purpose for a worker that stops on its own with no request: the flag is false and it is replaced,
    // to keep the pool at its size (test_cluster_worker_kill_signal).
    [Fact]
    public async Task test_cluster_kill_disconnect()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 2, DrainTimeout = TimeSpan.FromSeconds(20) });
        var disconnectThenKill = await cluster.ReadyWorkerAsync(1);
        var stopThenDisconnect = await cluster.ReadyWorkerAsync(2);

        // The disconnect is queued for the primary's loop before the signal is sent, so the loop sees it before the exit.
        disconnectThenKill.Disconnect();
        disconnectThenKill.Kill(9);
        await cluster.ExitOfAsync(disconnectThenKill.Id);

        // A request in flight (on the only worker left) keeps the second worker stopping while the primary asks too.
        using var http = new HttpClient { BaseAddress = cluster.BaseAddress, Timeout = ParityCluster.Deadline };
        http.DefaultRequestHeaders.ConnectionClose = true;
        using var slow = await http.GetAsync("/slow/3000", HttpCompletionOption.ResponseHeadersRead);
        using var body = new StreamReader(await slow.Content.ReadAsStreamAsync());
        Assert.Equal($"started in {stopThenDisconnect.ProcessId}", await body.ReadLineAsync());
        stopThenDisconnect.Kill();
        await Poll.UntilAsync(() => stopThenDisconnect.State == WorkerState.Draining, ParityCluster.Deadline, "the worker stopping on its own");
        stopThenDisconnect.Disconnect();
        Assert.Equal($"finished in {stopThenDisconnect.ProcessId}", await body.ReadLineAsync());

        foreach (var worker in new[] { disconnectThenKill, stopThenDisconnect })
        {
            var exit = await cluster.EndOfAsync(worker);
            Assert.True(exit.StopRequested, $"worker {worker.Id} at 'exit'");
            Assert.True(cluster.Single(worker.Id, "disconnect").StopRequested, $"worker {worker.Id} at 'disconnect'");
        }

        Assert.Equal("SIGKILL", (await cluster.ExitOfAsync(disconnectThenKill.Id)).Signal);
        Assert.Equal(0, (await cluster.ExitOfAsync(stopThenDisconnect.Id)).ExitCode);
    }

    // Node asserts: cluster.disconnect(cb) with idle workers calls cb, and cluster.workers is then empty.
    // Beyond Node: StopAsync returns once every worker has exited (Node's callback fires at the first).
    [Fact]
    public async Task test_cluster_disconnect_idle_worker()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 2, DrainTimeout = TimeSpan.FromSeconds(10) });
        var workers = new[] { await cluster.ReadyWorkerAsync(1), await cluster.ReadyWorkerAsync(2) };
        Assert.True(await cluster.Primary.StopAsync(CancellationToken.None));

        Assert.Empty(cluster.Primary.Workers);
        foreach (var worker in workers)
        {
            Assert.True(worker.IsDead);
            Assert.False(ProcessTree.IsAlive(worker.ProcessId));
            Assert.Equal(0, (await cluster.ExitOfAsync(worker.Id)).ExitCode);
        }
    }

    // Node asserts: cluster.disconnect(cb) with no workers calls cb, and never synchronously.
    // Ours: StopAsync with no worker (a respawn gap, nothing held) returns true at once and starts no worker. A Task
    // cannot call its awaiter back before StopAsync returns, so "never synchronously" holds by construction.
    [Fact]
    public async Task test_cluster_disconnect_with_no_workers()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions
        {
            Workers = 1,
            MinUptime = TimeSpan.FromHours(1),
            RestartDelay = TimeSpan.FromMinutes(5),
            MaxRestartDelay = TimeSpan.FromMinutes(5),
        });
        (await cluster.ReadyWorkerAsync(1)).Kill(9);
        await cluster.ExitOfAsync(1);
        await Poll.UntilAsync(() => cluster.Primary.Workers.Count == 0, ParityCluster.Deadline, "no worker");

        Assert.True(await cluster.Primary.StopAsync(CancellationToken.None).WaitAsync(ParityCluster.Deadline));
        Assert.Equal(1, cluster.Forks);
    }

    // Node asserts: cluster.disconnect(cb) of workers on two servers completes, and the same cluster then starts again
    // on the same ports and serves again, which proves the cleanup was complete.
    [Fact]
    public async Task test_cluster_disconnect()
    {
        var options = new ClusterOptions { Workers = 2, DrainTimeout = TimeSpan.FromSeconds(10) };
        string urls;
        await using (var cluster = await ParityCluster.StartAsync(options, "http://127.0.0.1:0;http://127.0.0.1:0"))
        {
            await cluster.ReadyWorkerAsync(1);
            await cluster.ReadyWorkerAsync(2);
            urls = string.Join(';', cluster.Primary.Urls);
            await AnswersOnEveryUrlAsync(cluster);
            Assert.True(await cluster.Primary.StopAsync(CancellationToken.None));
        }

        await using var again = await ParityCluster.StartAsync(options, urls);
        await again.ReadyWorkerAsync(1);
        await again.ReadyWorkerAsync(2);
        Assert.Equal(urls, string.Join(';', again.Primary.Urls));
        await AnswersOnEveryUrlAsync(again);
    }

    // Node asserts: destroying a worker from the primary's 'disconnect' handler, after a disconnect, is safe: one
    // 'disconnect' and one 'exit' (test-cluster-call-and-destroy).
    [Fact]
    public async Task test_cluster_call_and_destroy()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1, RestartDelay = TimeSpan.FromMinutes(5), MaxRestartDelay = TimeSpan.FromMinutes(5) });
        cluster.Primary.Disconnected += (_, e) => e.Worker.Kill(9);
        var worker = await cluster.ReadyWorkerAsync(1);
        worker.Disconnect();

        Assert.True((await cluster.EndOfAsync(worker)).StopRequested);
    }

    // Node asserts: cluster.disconnect() after a worker already disconnected skips that worker; every worker exits 0.
    [Fact]
    public async Task test_cluster_disconnect_before_exit()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 2, DrainTimeout = TimeSpan.FromSeconds(10) });
        var first = await cluster.ReadyWorkerAsync(1);
        await cluster.ReadyWorkerAsync(2);
        first.Disconnect();
        Assert.True(await cluster.Primary.StopAsync(CancellationToken.None));

        foreach (var id in new[] { 1, 2 })
        {
            var exit = await cluster.ExitOfAsync(id);
            Assert.Equal((0, null), (exit.ExitCode, exit.Signal));
            Assert.True(exit.StopRequested);
            cluster.Single(id, "exit");
        }
    }

    // Node asserts: workers that disconnect at once while messages still flow all exit (0, null); the only send errors
    // tolerated are those of a channel already gone (EPIPE, ECONNRESET, ENOTCONN) (nodejs/node#32106). Ours says
    // "not connected" once the primary has seen the channel end, and the errno before that.
    [Fact]
    public async Task test_cluster_concurrent_disconnect()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 2, DrainTimeout = TimeSpan.FromSeconds(10) });
        WorkerHandle[] workers = [await cluster.ReadyWorkerAsync(1), await cluster.ReadyWorkerAsync(2)];
        var replies = 0;
        cluster.Primary.Message += (_, _) => Interlocked.Increment(ref replies);
        using var done = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (var worker in workers)
                {
                    try
                    {
                        worker.Send(new { ping = worker.Id });
                    }
                    catch (InvalidOperationException error) when (error.Message.EndsWith("is not connected", StringComparison.Ordinal))
                    {
                    }
                    catch (System.ComponentModel.Win32Exception error) when (error.NativeErrorCode is 32 or 104 or 107)
                    {
                    }
                }

                await Task.Delay(5);
            }
        });
        await Poll.UntilAsync(() => Volatile.Read(ref replies) >= 10, ParityCluster.Deadline, "answers from the workers");

        foreach (var worker in workers)
        {
            worker.Disconnect();
        }

        foreach (var worker in workers)
        {
            var exit = await cluster.ExitOfAsync(worker.Id);
            Assert.Equal((0, null), (exit.ExitCode, exit.Signal));
            Assert.True(exit.StopRequested);
        }

        await done.CancelAsync();
        await sending;
    }

    // Node asserts: cluster.disconnect() right after fork() still produces 'disconnect' and 'exit' (test-cluster-disconnect-leak).
    // Differs where the stop comes before the worker's channel is up: it never connected, so it has no 'disconnect';
    // the primary stops it with SIGTERM, which a .NET host takes as a graceful stop.
    [Fact]
    public async Task test_cluster_disconnect_leak()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(10) });
        await cluster.Primary.StopAsync(CancellationToken.None).WaitAsync(ParityCluster.Deadline);

        var exit = await cluster.ExitOfAsync(1);
        Assert.True(exit.StopRequested);
        cluster.Single(1, "exit");
        Assert.Equal(cluster.EventsOf(1).Contains("online") ? 1 : 0, cluster.EventsOf(1).Count(name => name == "disconnect"));
        Assert.Equal(1, cluster.Forks);
    }

    // Node asserts: two workers on one shared (SCHED_NONE) handle, with a live client connection, both disconnect and
    // exit 0, and the primary keeps no handle for them (PR #3510).
    [Fact]
    public async Task test_cluster_shared_leak()
    {
        await using var cluster = await ParityCluster.StartAsync(
            new ClusterOptions { Workers = 2, Scheduling = SchedulingMode.Shared, DrainTimeout = TimeSpan.FromSeconds(4) });
        await cluster.ReadyWorkerAsync(1);
        await cluster.ReadyWorkerAsync(2);
        using var client = await KeepAliveConnection.OpenAsync(cluster.BaseAddress);

        Assert.True(await cluster.Primary.StopAsync(CancellationToken.None));
        foreach (var id in new[] { 1, 2 })
        {
            var exit = await cluster.ExitOfAsync(id);
            Assert.Equal((0, null), (exit.ExitCode, exit.Signal));
        }
    }

    private static async Task AnswersOnEveryUrlAsync(ParityCluster cluster)
    {
        var workers = cluster.Primary.Workers.Select(worker => worker.ProcessId).ToList();
        foreach (var url in cluster.Primary.Urls)
        {
            using var client = new AppClient(new Uri(url));
            Assert.Contains(await client.HelloPidAsync(), workers);
        }
    }
}
