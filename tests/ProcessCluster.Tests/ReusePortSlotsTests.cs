using ProcessCluster.Distribution;

namespace ProcessCluster.Tests;

/// <summary>ReusePort's slots (pure): which member of the SO_REUSEPORT groups a worker gets, and where new connections go.</summary>
public class ReusePortSlotsTests
{
    private static readonly Func<int, bool> NothingQueued = _ => false;

    [Fact]
    public void A_new_worker_takes_a_free_slot_with_queued_connections_first_then_the_lowest_free_then_a_new_one()
    {
        var slots = new ReusePortSlots();
        Assert.Equal([0, 1, 2], new[] { 1, 2, 3 }.Select(worker => slots.Assign(worker, NothingQueued)));
        Assert.Equal(1, slots.Assign(2, NothingQueued));

        slots.Release(1);
        slots.Release(3);
        // Slot 2's worker died with connections in its queue: the next worker takes them, though slot 0 is lower.
        Assert.Equal(2, slots.Assign(4, slot => slot == 2));
        Assert.Equal(0, slots.Assign(5, NothingQueued));
        Assert.Equal(3, slots.Assign(6, NothingQueued));
        Assert.Equal(4, slots.Count);
    }

    [Fact]
    public void New_connections_go_to_the_serving_slots_and_while_none_serves_to_a_starting_workers_slot_else_the_lowest_free()
    {
        var slots = new ReusePortSlots();
        Assert.Null(slots.Steering());
        slots.Assign(1, NothingQueued);
        slots.Assign(2, NothingQueued);
        Assert.Equal([0], slots.Steering());

        slots.Serve(2);
        Assert.Equal([1], slots.Steering());
        slots.Serve(1);
        Assert.Equal([0, 1], slots.Steering());

        // A successor surges in for worker 1, then worker 1 leaves: it keeps its slot, which gets nothing new.
        Assert.Equal(2, slots.Assign(3, NothingQueued));
        slots.Serve(3);
        slots.Retire(1);
        Assert.Equal([1, 2], slots.Steering());

        slots.Release(1);
        slots.Release(2);
        slots.Release(3);
        Assert.Equal([0], slots.Steering());
    }
}
