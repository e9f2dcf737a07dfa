using System.Collections.Concurrent;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>The supervisor's worker health probes over real channels, on a fake clock: a sick worker is replaced, reason health.</summary>
public class WorkerProbesTests
{
    [Fact]
    public async Task A_worker_failing_its_probes_leaves_dispatch_at_once_and_drains_with_reason_health_once_its_successor_is_ready()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions
        {
            Workers = 2, DrainTimeout = TimeSpan.FromSeconds(5),
            WorkerHealthPath = "/health", WorkerHealthInterval = TimeSpan.FromSeconds(2), WorkerHealthTimeout = TimeSpan.FromSeconds(1), WorkerHealthFailures = 2,
        });
        var sick = new ProbedWorker(await cluster.ReadyAsync(1), 503);
        var healthy = new ProbedWorker(await cluster.ReadyAsync(2), 200);
        var workers = cluster.Workers.ToDictionary(worker => worker.Id);

        // Probes at 1 s and 3 s: the sick worker's second 503 makes it unhealthy.
        for (var second = 1; second <= 3; second++)
        {
            cluster.Clock.Advance(TimeSpan.FromSeconds(1));
            var now = cluster.Clock.GetUtcNow();
            await cluster.UntilAsync(snapshot => snapshot.LastTickAt == now, $"the tick at {second} s");
            // Each answer is on the loop's queue before the next tick, as it would be on a real clock.
            await cluster.UntilAsync(_ => !workers[1].ProbeAwaited && !workers[2].ProbeAwaited, $"the answers to the probes at {second} s");
        }

        await cluster.SpawnedAsync(3);
        Assert.Equal([1], cluster.Distribution.Retired);
        Assert.Equal(WorkerState.Ready, workers[1].State);
        Assert.Equal(["/health", "/health"], sick.Paths);
        Assert.Equal(["/health", "/health"], healthy.Paths);

        await cluster.ReadyAsync(3);
        await cluster.UntilAsync(_ => sick.Frames.Contains(FrameType.Disconnect), "worker 1 asked to drain");
        Assert.Equal(StopReason.Health, workers[1].StopReason);
        Assert.Equal("health", StopReason.Health.Describe());
        cluster.Exit(workers[1], ExitStatus.Exited(0));
        await cluster.UntilAsync(_ => cluster.Observer.Facts.Contains("exited 1"), "worker 1 reaped, not restarted");
        Assert.Equal(3, cluster.Processes.Spawned);
        Assert.DoesNotContain(FrameType.Disconnect, healthy.Frames);
    }

    /// <summary>A worker's end of the channel answering every health probe with one status.</summary>
    private sealed class ProbedWorker
    {
        public ProbedWorker(IpcChannel channel, int status)
        {
            new Thread(() =>
            {
                try
                {
                    while (channel.Receive() is { } frame)
                    {
                        Frames.Enqueue(frame.Type);
                        if (frame.Type == FrameType.HealthProbe)
                        {
                            var (id, _, path) = FrameFormat.ReadHealthProbe(frame);
                            Paths.Enqueue(path);
                            channel.Send(FrameType.HealthResult, FrameFormat.WriteHealthResult(id, status));
                        }
                    }
                }
                catch (Exception error) when (error is ObjectDisposedException or System.ComponentModel.Win32Exception)
                {
                    // The test is over.
                }
            }) { IsBackground = true }.Start();
        }

        public ConcurrentQueue<FrameType> Frames { get; } = new();

        public ConcurrentQueue<string> Paths { get; } = new();
    }
}
