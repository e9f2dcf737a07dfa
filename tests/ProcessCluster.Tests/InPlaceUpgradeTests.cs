using ProcessCluster.Ipc;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>The old program's side of an in-place upgrade, on the harness: when it refuses, and how it calls itself off.</summary>
public class InPlaceUpgradeTests
{
    [Fact]
    public async Task An_upgrade_is_refused_while_a_worker_starts_and_called_off_when_a_worker_does_not_pause_in_time()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1 });
        await cluster.SpawnedAsync(1);
        var refused = await UpgradeAsync(cluster);
        Assert.Equal(UpgradeOutcome.Refused, refused.Outcome);
        Assert.Equal("worker 1 is starting; try again once every worker is ready", refused.Message);
        Assert.False(cluster.Distribution.Paused);

        var worker = await cluster.ReadyAsync(1);
        var silent = Upgrade(cluster);
        ReceivePause(worker);
        Assert.True(cluster.Distribution.Paused);
        // The worker never answers Paused: the upgrade gives up at its deadline, and accepting resumes.
        while (!silent.IsCompleted)
        {
            cluster.Clock.Advance(TimeSpan.FromMilliseconds(500));
            await Task.WhenAny(silent, Task.Delay(10));
        }

        Assert.Equal(new UpgradeResult(UpgradeOutcome.CalledOff, "the workers did not all pause within 5 s"), await silent);
        Assert.False(cluster.Distribution.Paused);
    }

    [Fact]
    public async Task When_execve_fails_the_upgrade_is_called_off_with_why_and_the_cluster_goes_on_as_it_was()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1 });
        var worker = await cluster.ReadyAsync(1);
        var failed = Upgrade(cluster);
        ReceivePause(worker);
        worker.Send(FrameType.Paused, []);
        var result = await failed.WaitAsync(SupervisorHarness.Deadline);
        Assert.Equal(UpgradeOutcome.CalledOff, result.Outcome);
        Assert.StartsWith("execve(/nonexistent) failed: ", result.Message);
        Assert.False(cluster.Distribution.Paused);
        Assert.Equal(WorkerState.Ready, cluster.Workers.Single().State);
    }

    /// <summary>The worker's next frame other than the welcome is Pause.</summary>
    private static void ReceivePause(IpcChannel worker)
    {
        var frame = worker.Receive()!;
        Assert.Equal(FrameType.Pause, frame.Type == FrameType.Welcome ? worker.Receive()!.Type : frame.Type);
    }

    private static Task<UpgradeResult> UpgradeAsync(SupervisorHarness cluster) => Upgrade(cluster).WaitAsync(SupervisorHarness.Deadline);

    /// <summary>Posts the request as the supervisor does once the new build passed its check; the program does not exist, so execve fails.</summary>
    private static Task<UpgradeResult> Upgrade(SupervisorHarness cluster)
    {
        var done = new TaskCompletionSource<UpgradeResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.Supervisor.Post(new UpgradeRequested(new WorkerCommand("/nonexistent", ["/nonexistent"]), [], done));
        return done.Task;
    }
}
