using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

public class WorkerStateMachineTests
{
    [Fact]
    public void The_forward_path_is_starting_online_ready_draining_dead()
    {
        var state = WorkerState.Starting;
        foreach (var (trigger, expected) in new[]
        {
            (WorkerTrigger.Connected, WorkerState.Online),
            (WorkerTrigger.Listening, WorkerState.Ready),
            (WorkerTrigger.Drain, WorkerState.Draining),
            (WorkerTrigger.Exited, WorkerState.Dead),
        })
        {
            state = WorkerStateMachine.Next(state, trigger) ?? throw new InvalidOperationException($"{trigger} refused in {state}");
            Assert.Equal(expected, state);
        }
    }

    [Fact]
    public void A_spare_is_promoted_to_ready_and_nothing_else_makes_a_worker_ready_twice()
    {
        Assert.Equal(WorkerState.Spare, WorkerStateMachine.Next(WorkerState.Online, WorkerTrigger.ListeningAsSpare));
        Assert.Equal(WorkerState.Ready, WorkerStateMachine.Next(WorkerState.Spare, WorkerTrigger.Promote));
        Assert.Null(WorkerStateMachine.Next(WorkerState.Ready, WorkerTrigger.Promote));
        Assert.Null(WorkerStateMachine.Next(WorkerState.Draining, WorkerTrigger.Promote));
        Assert.Null(WorkerStateMachine.Next(WorkerState.Spare, WorkerTrigger.Listening));
    }

    [Theory]
    [InlineData(WorkerState.Draining, WorkerTrigger.Listening)]
    [InlineData(WorkerState.Draining, WorkerTrigger.Connected)]
    [InlineData(WorkerState.Draining, WorkerTrigger.Drain)]
    [InlineData(WorkerState.Starting, WorkerTrigger.Listening)]
    [InlineData(WorkerState.Ready, WorkerTrigger.Connected)]
    [InlineData(WorkerState.Dead, WorkerTrigger.Exited)]
    [InlineData(WorkerState.Dead, WorkerTrigger.Listening)]
    // The trigger type is internal: xUnit passes it boxed.
    public void Late_or_repeated_events_are_refused(WorkerState state, object trigger)
    {
        Assert.Null(WorkerStateMachine.Next(state, (WorkerTrigger)trigger));
    }

    [Theory]
    [InlineData(WorkerState.Starting)]
    [InlineData(WorkerState.Online)]
    [InlineData(WorkerState.Ready)]
    [InlineData(WorkerState.Spare)]
    [InlineData(WorkerState.Draining)]
    public void A_worker_can_die_or_start_draining_from_any_live_state(WorkerState state)
    {
        Assert.Equal(WorkerState.Dead, WorkerStateMachine.Next(state, WorkerTrigger.Exited));
        Assert.Equal(state == WorkerState.Draining ? null : WorkerState.Draining, WorkerStateMachine.Next(state, WorkerTrigger.Drain));
    }

    [Theory]
    [InlineData(StopReason.Reload, true)]
    [InlineData(StopReason.RecycledForMemory, true)]
    [InlineData(StopReason.Shutdown, true)]
    [InlineData(StopReason.Hung, false)]
    [InlineData(StopReason.Crashed, false)]
    [InlineData(StopReason.NotReadyInTime, false)]
    public void Planned_stops_are_not_restarted_and_failures_are(StopReason reason, bool planned)
    {
        Assert.Equal(planned, reason.IsPlanned());
    }
}
