using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

public class ReplacementQueueTests
{
    private readonly ReplacementQueue _queue = new();

    [Fact]
    public void Replacements_surge_then_drain_one_at_a_time()
    {
        _queue.Enqueue(1, StopReason.Reload);
        _queue.Enqueue(2, StopReason.Reload);
        var first = Assert.Single(_queue.TakeNext(concurrency: 1));
        Assert.Equal(1, first.OldWorkerId);
        _queue.SuccessorStarted(1, 10);
        Assert.Empty(_queue.TakeNext(1));

        // The old worker is drained only once its successor is ready.
        Assert.Null(_queue.WorkerReady(99));
        Assert.Equal(ReplacementPhase.DrainingOld, _queue.WorkerReady(10)?.Phase);
        Assert.Empty(_queue.TakeNext(1));

        // The next starts only when the old one has exited.
        Assert.Equal(ReplacementOutcome.Completed, _queue.WorkerExited(1)?.Outcome);
        Assert.Equal(2, Assert.Single(_queue.TakeNext(1)).OldWorkerId);
    }

    [Fact]
    public void Concurrency_bounds_the_steps_running_at_once()
    {
        foreach (var id in new[] { 1, 2, 3 })
        {
            _queue.Enqueue(id, StopReason.Reload);
        }

        Assert.Equal([1, 2], _queue.TakeNext(2).Select(step => step.OldWorkerId));
        Assert.Empty(_queue.TakeNext(2));
    }

    [Fact]
    public void A_successor_that_dies_before_ready_fails_its_step_and_the_old_worker_stays()
    {
        StartReplacing(1, StopReason.RecycledForMemory, successor: 10);
        var (step, outcome) = _queue.WorkerExited(10)!.Value;
        Assert.Equal(ReplacementOutcome.SuccessorFailed, outcome);
        Assert.Equal((1, StopReason.RecycledForMemory), (step.OldWorkerId, step.Reason));
        Assert.False(_queue.Contains(1));
    }

    [Fact]
    public void An_old_worker_dying_before_its_successor_is_ready_is_covered_by_the_successor()
    {
        StartReplacing(1, StopReason.Reload, successor: 10);
        Assert.Equal(ReplacementOutcome.OldWorkerLost, _queue.WorkerExited(1)?.Outcome);
        Assert.Null(_queue.WorkerReady(10));
    }

    private void StartReplacing(int old, StopReason reason, int successor)
    {
        _queue.Enqueue(old, reason);
        Assert.Equal(old, Assert.Single(_queue.TakeNext(1)).OldWorkerId);
        _queue.SuccessorStarted(old, successor);
    }

    [Fact]
    public void A_worker_is_queued_once_and_cancelling_leaves_running_steps_alone()
    {
        _queue.Enqueue(1, StopReason.RecycledForRequests);
        _queue.Enqueue(1, StopReason.RecycledForMemory);
        _queue.Enqueue(2, StopReason.Reload);
        Assert.Equal(StopReason.RecycledForRequests, Assert.Single(_queue.TakeNext(1)).Reason);
        Assert.Equal(2, Assert.Single(_queue.CancelWaiting(_ => true)).OldWorkerId);
        Assert.True(_queue.Contains(1));
    }
}
