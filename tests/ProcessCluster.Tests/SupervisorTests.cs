using System.Diagnostics;
using System.Text;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>The supervisor's decisions over workers' whole lives, on a fake clock, without a real process.</summary>
public class SupervisorTests
{
    private static readonly ExitStatus Crash = ExitStatus.Exited(1);

    [Fact]
    public async Task Workers_that_die_before_they_are_ready_back_off_then_the_cluster_gives_up_and_says_it_cannot_run()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions
        {
            Workers = 1, RestartDelay = TimeSpan.FromSeconds(1), MaxRestartDelay = TimeSpan.FromSeconds(8), CrashLoopLimit = 3,
        });

        // Deaths in a row wait 1, 2, 4 s; the fourth early death is past the limit of 3.
        foreach (var (id, backoff) in new[] { (1, 1), (2, 2), (3, 4) })
        {
            cluster.Exit(await cluster.SpawnedAsync(id), Crash);
            await cluster.UntilAsync(snapshot => snapshot.Workers.Count == 0, $"worker {id} reaped");
            cluster.Clock.Advance(TimeSpan.FromSeconds(backoff) - TimeSpan.FromMilliseconds(1));
            Assert.Equal(id, cluster.Processes.Spawned);
            cluster.Clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        cluster.Exit(await cluster.SpawnedAsync(4), Crash);
        await cluster.UntilAsync(_ => cluster.Observer.Facts.Contains("crash loop, ever ready False, 0 serving"), "the crash loop");
        cluster.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(4, cluster.Processes.Spawned);
        Assert.Equal(["exited 1 restart in 1000 ms", "exited 2 restart in 2000 ms", "exited 3 restart in 4000 ms", "exited 4"], cluster.Observer.Facts.Where(fact => fact.StartsWith("exited", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_worker_that_served_and_then_died_is_replaced_at_once_while_its_twin_that_died_booting_waits_its_backoff()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 2, RestartDelay = TimeSpan.FromSeconds(5) });
        await cluster.ReadyAsync(1);
        await cluster.ReadyAsync(2);
        cluster.Clock.Advance(TimeSpan.FromSeconds(2)); // past MinUptime (1 s): both served

        // No clock moves from here: the replacement of a worker that served starts with no delay.
        cluster.Exit(cluster.Workers.Single(worker => worker.Id == 1), Crash);
        var replacement = await cluster.SpawnedAsync(3);

        // The replacement dies before it is ready: its successor waits the backoff, doubled (second death in a row).
        cluster.Exit(replacement, Crash);
        await cluster.UntilAsync(snapshot => snapshot.Workers.Count == 1, "worker 3 reaped");
        cluster.Clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, cluster.Processes.Spawned);
        cluster.Clock.Advance(TimeSpan.FromMilliseconds(1));
        await cluster.SpawnedAsync(4);
        Assert.Equal(["exited 1 restart in 0 ms", "exited 3 restart in 10000 ms"], cluster.Observer.Facts.Where(fact => fact.StartsWith("exited", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_reload_whose_new_worker_dies_before_it_is_ready_is_aborted_and_the_old_workers_keep_serving()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 2 });
        await cluster.ReadyAsync(1);
        await cluster.ReadyAsync(2);

        var reload = cluster.Supervisor.ReloadAsync(CancellationToken.None);
        cluster.Exit(await cluster.SpawnedAsync(3), Crash);

        var result = await reload.WaitAsync(SupervisorHarness.Deadline);
        Assert.False(result.Succeeded);
        Assert.Contains("worker 3", result.Message);
        Assert.Equal([1, 2], cluster.Workers.Where(worker => worker.State == WorkerState.Ready).Select(worker => worker.Id));
        Assert.Empty(cluster.Processes.Signals);
        Assert.Equal(3, cluster.Processes.Spawned);
    }

    [Fact]
    public async Task A_reload_whose_new_worker_never_listens_is_aborted_at_the_ready_timeout_and_the_old_workers_keep_serving()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 2, ReadyTimeout = TimeSpan.FromSeconds(5) });
        await cluster.ReadyAsync(1);
        await cluster.ReadyAsync(2);

        var reload = cluster.Supervisor.ReloadAsync(CancellationToken.None);
        var silent = await cluster.SpawnedAsync(3);
        for (var i = 0; i < 5; i++)
        {
            cluster.Clock.Advance(TimeSpan.FromSeconds(1));
        }

        await cluster.UntilAsync(snapshot => snapshot.Workers.Count == 3, "the probes up to the timeout");
        Assert.Empty(cluster.Processes.Signals);
        cluster.Clock.Advance(TimeSpan.FromSeconds(1));
        await Eventually.UntilAsync(() => cluster.Processes.Signals.Contains((silent.ProcessId, 9)), "SIGKILL for worker 3 past its ready timeout");
        cluster.Exit(silent, ExitStatus.Killed(9));

        var result = await reload.WaitAsync(SupervisorHarness.Deadline);
        Assert.False(result.Succeeded);
        Assert.StartsWith("worker 3 (pid ", result.Message);
        Assert.Contains("did not become ready: not listening within Cluster:ReadyTimeout (5 s), killed; worker 1 keeps serving", result.Message);
        Assert.Equal([1, 2], cluster.Workers.Where(worker => worker.State == WorkerState.Ready).Select(worker => worker.Id));
        Assert.Equal(3, cluster.Processes.Spawned);
    }

    [Fact]
    public async Task A_new_worker_of_another_protocol_is_refused_with_one_line_and_its_reload_aborted_and_one_of_a_newer_library_that_speaks_it_is_accepted()
    {
        var log = new RecordingLogger();
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1 }, log);
        await cluster.ReadyAsync(1);
        var mismatch = $"worker built with ProcessCluster 9.0.0 (protocol {ChannelProtocol.Version + 1}), primary runs {ChannelProtocol.Library} (protocol {ChannelProtocol.Version}); restart the primary to upgrade";

        var reload = cluster.Supervisor.ReloadAsync(CancellationToken.None);
        var (claimed, _, _) = await cluster.HelloAsync(2, ChannelProtocol.Version + 1, "9.0.0");
        Assert.Null(claimed);
        var refused = cluster.Workers.Single(worker => worker.Id == 2);
        await Eventually.UntilAsync(() => cluster.Processes.Signals.Contains((refused.ProcessId, 9)), "SIGKILL for the worker of another protocol");
        Assert.Equal([$"Refused worker 2 (pid {refused.ProcessId}): {mismatch}"], log.Lines.Where(line => line.StartsWith("Refused", StringComparison.Ordinal)));
        cluster.Exit(refused, ExitStatus.Killed(9));
        var result = await reload.WaitAsync(SupervisorHarness.Deadline);
        Assert.False(result.Succeeded);
        Assert.Contains($"did not become ready: {mismatch}; worker 1 keeps serving", result.Message);
        Assert.Equal(StopReason.IncompatibleProtocol, refused.StopReason);

        // The same protocol from a newer library: a normal reload.
        var second = cluster.Supervisor.ReloadAsync(CancellationToken.None);
        await cluster.ReadyAsync(3, library: "9.0.0");
        cluster.Exit(cluster.Workers.Single(worker => worker.Id == 1), ExitStatus.Exited(0));
        Assert.True((await second.WaitAsync(SupervisorHarness.Deadline)).Succeeded);
        Assert.Equal("9.0.0", Control.WorkerStatus.Of(cluster.Workers.Single(), cluster.Clock.GetUtcNow()).Library);
    }

    [Fact]
    public async Task A_stop_in_a_respawn_gap_starts_a_worker_for_the_held_connections_then_drains_it_and_succeeds()
    {
        // Every death is early (MinUptime), so the replacement waits out its backoff: a gap of 30 s.
        await using var cluster = new SupervisorHarness(new ClusterOptions
        {
            Workers = 1, RestartDelay = TimeSpan.FromSeconds(30), MinUptime = TimeSpan.FromHours(1), DrainTimeout = TimeSpan.FromSeconds(5),
        });
        await cluster.ReadyAsync(1);
        cluster.Exit(cluster.Workers[0], Crash);
        await cluster.UntilAsync(snapshot => snapshot.Workers.Count == 0, "worker 1 reaped");
        cluster.Distribution.Queued = 3;

        var stop = cluster.Supervisor.StopAsync(CancellationToken.None);

        // No clock moves: the replacement starts at once, not after its backoff.
        var channel = await cluster.ReadyAsync(2);
        Assert.Equal([1, 2], cluster.Distribution.Added);
        Assert.Equal(FrameType.Disconnect, await ReceiveAsync(channel, FrameType.Disconnect));
        cluster.Exit(cluster.Workers[0], ExitStatus.Exited(0));
        Assert.True(await stop.WaitAsync(SupervisorHarness.Deadline));
        Assert.Equal(2, cluster.Processes.Spawned);
    }

    [Fact]
    public async Task A_stop_that_finds_a_worker_ready_starts_none()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(5) });
        var channel = await cluster.ReadyAsync(1);
        cluster.Distribution.Queued = 3;

        var stop = cluster.Supervisor.StopAsync(CancellationToken.None);
        await ReceiveAsync(channel, FrameType.Disconnect);
        cluster.Exit(cluster.Workers[0], ExitStatus.Exited(0));

        Assert.True(await stop.WaitAsync(SupervisorHarness.Deadline));
        Assert.Equal(1, cluster.Processes.Spawned);
    }

    [Fact]
    public async Task Scaling_down_drains_one_worker_at_a_time_the_next_only_once_the_last_has_exited()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 3 });
        var channels = new[] { await cluster.ReadyAsync(1), await cluster.ReadyAsync(2), await cluster.ReadyAsync(3) };

        cluster.Supervisor.RequestScale(1, 1);
        await cluster.UntilAsync(snapshot => snapshot.Workers.Count(worker => worker.State == WorkerState.Draining) == 1, "one worker draining");
        var first = cluster.Workers.Single(worker => worker.State == WorkerState.Draining);
        Assert.Equal(3, first.Id); // the youngest idle one

        // Probes come and go while it drains: nobody else is drained meanwhile.
        for (var i = 0; i < 5; i++)
        {
            cluster.Clock.Advance(TimeSpan.FromSeconds(1));
        }

        await cluster.UntilAsync(_ => cluster.Supervisor.Snapshot.DesiredWorkers == 1, "desired 1");
        Assert.Single(cluster.Workers, worker => worker.State == WorkerState.Draining);
        Assert.Equal(StopReason.ScaledDown, first.StopReason);

        cluster.Exit(first, ExitStatus.Exited(0));
        await cluster.UntilAsync(snapshot => snapshot.Workers.Count == 2, "worker 3 reaped");
        cluster.Clock.Advance(TimeSpan.FromSeconds(1));
        await cluster.UntilAsync(snapshot => snapshot.Workers.Any(worker => worker is { Id: 2, State: WorkerState.Draining }), "worker 2 draining next");
        Assert.Equal(3, cluster.Processes.Spawned);
        Assert.DoesNotContain(cluster.Observer.Facts, fact => fact.Contains("restart", StringComparison.Ordinal));
        GC.KeepAlive(channels);
    }

    [Fact]
    public async Task A_worker_flooding_messages_while_the_app_is_slow_has_at_most_64_waiting_for_the_loop_and_none_lost()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1 });
        var channel = await cluster.ReadyAsync(1);
        using var slowApp = new ManualResetEventSlim();
        cluster.Observer.HoldMessages = slowApp;

        // 8 KiB each, 8 MiB in all: far more than the channel and the decoder hold, so the flood waits once the bound is reached.
        const int Messages = 1000;
        var flood = Task.Run(() =>
        {
            for (var i = 0; i < Messages; i++)
            {
                channel.Send(FrameType.Message, Encoding.UTF8.GetBytes($"[{i},\"{new string('m', 8 * 1024)}\"]"));
            }
        });

        var mostWaiting = 0;
        try
        {
            // The loop holds the first message; 64 wait behind it, and then the worker's channel thread waits.
            await Eventually.UntilAsync(() => cluster.Supervisor.PendingEvents >= 64, "64 messages waiting for the loop");
            for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(0.5);)
            {
                mostWaiting = Math.Max(mostWaiting, cluster.Supervisor.PendingEvents);
            }
        }
        finally
        {
            // Whatever happened, the loop goes on (the harness's disposal needs it).
            slowApp.Set();
        }

        Assert.True(mostWaiting <= 64, $"{mostWaiting} events waited for the loop at once");
        await flood.WaitAsync(TimeSpan.FromSeconds(20));
        await Eventually.UntilAsync(() => cluster.Observer.Messages.Count == Messages, $"all {Messages} messages handled");
        Assert.Equal(Enumerable.Range(0, Messages), cluster.Observer.Messages.Select(text => int.Parse(text[1..text.IndexOf(',', StringComparison.Ordinal)])));
    }

    [Fact]
    public async Task A_worker_flooding_load_reports_costs_one_queued_event_and_delays_no_decision()
    {
        // Autoscaling: every load report is a scaling decision, the loop's costliest event.
        await using var cluster = new SupervisorHarness(new ClusterOptions { MinWorkers = 1, MaxWorkers = 4 });
        var channel = await cluster.ReadyAsync(1);
        var report = new byte[FrameFormat.HeartbeatSize];
        using var flooding = new CancellationTokenSource();
        var sent = 0L;
        var flood = Task.Run(() =>
        {
            for (var clock = 1L; !flooding.IsCancellationRequested; clock++)
            {
                FrameFormat.WriteHeartbeat(report, new WorkerLoadReport(clock, 0, 0, clock, 0));
                channel.Send(FrameType.LoadReport, report);
                Interlocked.Increment(ref sent);
            }
        });

        var mostWaiting = 0;
        await Eventually.UntilAsync(
            () =>
            {
                mostWaiting = Math.Max(mostWaiting, cluster.Supervisor.PendingEvents);
                return Interlocked.Read(ref sent) > 50_000;
            },
            "the flood under way");
        // The command waits behind at most the one coalesced report (how soon, in time, is bench/flood.sh's figure).
        cluster.Supervisor.RequestScaleBy(1);
        await cluster.UntilAsync(snapshot => snapshot.DesiredWorkers == 2, "the scale-up applied");
        await flooding.CancelAsync();
        await flood;

        Assert.True(mostWaiting <= 2, $"{mostWaiting} events waited at once during a flood of {sent} reports");
        await cluster.UntilAsync(snapshot => snapshot.Workers[0].Requests == Interlocked.Read(ref sent), "the newest report taken in");
    }

    private static async Task<FrameType> ReceiveAsync(IpcChannel channel, FrameType expected)
    {
        channel.SetReceiveTimeout(SupervisorHarness.Deadline);
        return await Task.Run(() =>
        {
            while (channel.Receive() is { } frame)
            {
                if (frame.Type == expected)
                {
                    return frame.Type;
                }
            }

            throw new InvalidOperationException($"the channel closed before a {expected} frame");
        });
    }
}
