using ProcessCluster.Distribution;

namespace ProcessCluster.Tests;

/// <summary>Where each accepted connection is (pending, in flight, done), on a fake clock in milliseconds; fds are plain numbers.</summary>
public class HandoffLedgerTests
{
    private readonly HandoffLedger _ledger = new();

    public HandoffLedgerTests()
    {
        _ledger.AddWorker(1);
        _ledger.AddWorker(2);
    }

    /// <summary>Accepts connections with descriptors <paramref name="fds"/> and sends each to <paramref name="workerId"/> at <paramref name="now"/>.</summary>
    private List<Handoff> SendTo(int workerId, long now, params int[] fds)
    {
        foreach (var fd in fds)
        {
            _ledger.Accept(fd, endpoint: 0);
        }

        return fds.Select(_ => _ledger.Sent(workerId, now)).ToList();
    }

    /// <summary>The pending descriptors in the order they would be sent (sent to a spare worker to walk the line).</summary>
    private List<int> PendingFds()
    {
        var fds = new List<int>();
        _ledger.AddWorker(99);
        while (_ledger.TryPeek(out var handoff))
        {
            fds.Add(handoff.Fd);
            _ledger.Sent(99, now: 0);
        }

        return fds;
    }

    [Fact]
    public void Connections_are_sent_in_the_order_they_were_accepted()
    {
        _ledger.Accept(10, 0);
        _ledger.Accept(11, 1);

        Assert.True(_ledger.TryPeek(out var first));
        Assert.Equal((10, 0), (first.Fd, first.Endpoint));
        Assert.Equal(first, _ledger.Sent(1, now: 5));
        Assert.True(_ledger.TryPeek(out var second));
        Assert.Equal(11, second.Fd);
        Assert.True(second.Id > first.Id);
        Assert.Equal(1, _ledger.Pending);
        Assert.Equal(new HandoffLoad(1, 5), _ledger.Load(1));
        Assert.Equal(1, _ledger.Dispatched(1));
        Assert.Equal(0, _ledger.Dispatched(42));
    }

    [Fact]
    public void An_accepted_ack_hands_the_descriptor_back_to_close_and_a_refused_one_goes_back_to_the_front()
    {
        var sent = SendTo(1, 0, 10, 11);
        _ledger.Accept(12, 0);

        var toClose = _ledger.OnAcks(1, [(sent[0].Id, true), (sent[1].Id, false)]);

        Assert.Equal([10], toClose);
        Assert.Equal([11, 12], PendingFds());
        Assert.Equal(default, _ledger.Load(1));
    }

    [Fact]
    public void Acks_for_unknown_connections_or_workers_change_nothing()
    {
        var sent = SendTo(1, 0, 10);

        Assert.Empty(_ledger.OnAcks(1, [(sent[0].Id + 100, true)]));
        Assert.Empty(_ledger.OnAcks(42, [(sent[0].Id, true)]));
        Assert.Empty(_ledger.OnAcks(2, [(sent[0].Id, true)]));
        Assert.Equal(1, _ledger.Load(1).InFlight);
    }

    [Fact]
    public void What_a_removed_worker_had_not_acknowledged_goes_to_the_front_oldest_first()
    {
        SendTo(1, 0, 10, 11, 12);
        _ledger.Accept(20, 0);

        _ledger.RemoveWorker(1);

        Assert.Equal([10, 11, 12, 20], PendingFds());
        Assert.Equal(0, _ledger.Dispatched(1));
    }

    [Fact]
    public void Shares_that_did_not_go_out_go_back_to_the_front_oldest_first_and_count_as_never_sent()
    {
        foreach (var fd in new[] { 10, 11, 12, 13, 14 })
        {
            _ledger.Accept(fd, endpoint: 0);
        }

        // A batch of four chosen round-robin; neither worker's frame went out.
        var toOne = new[] { _ledger.Sent(1, 0), _ledger.Sent(2, 0), _ledger.Sent(1, 0), _ledger.Sent(2, 0) };
        _ledger.Unsend([(1, toOne[0]), (1, toOne[2]), (2, toOne[1]), (2, toOne[3])]);

        Assert.Equal(0, _ledger.Load(1).InFlight);
        Assert.Equal(0, _ledger.Load(2).InFlight);
        Assert.Equal(0, _ledger.Dispatched(1));
        Assert.Equal([10, 11, 12, 13, 14], PendingFds());
    }

    [Fact]
    public void A_retired_worker_keeps_what_it_has_not_acknowledged_until_it_answers_or_exits()
    {
        var sent = SendTo(1, 0, 10, 11, 12);
        _ledger.Retire(1);

        Assert.Equal(3, _ledger.Load(1).InFlight);
        Assert.Equal(0, _ledger.Pending);
        _ledger.Accept(13, 0);
        Assert.Throws<InvalidOperationException>(() => _ledger.Sent(1, now: 1));

        Assert.Equal([10], _ledger.OnAcks(1, [(sent[0].Id, true)]));
        Assert.Empty(_ledger.OnAcks(1, [(sent[1].Id, false)]));
        Assert.Equal(new HandoffLoad(1, 0), _ledger.Load(1));

        _ledger.RemoveWorker(1);
        Assert.Equal([12, 11, 13], PendingFds());
    }

    [Fact]
    public void Load_tells_when_the_oldest_unacknowledged_connection_was_sent()
    {
        var sent = SendTo(1, 100, 10);
        SendTo(1, 250, 11);

        Assert.Equal(new HandoffLoad(2, 100), _ledger.Load(1));
        _ledger.OnAcks(1, [(sent[0].Id, true)]);
        Assert.Equal(new HandoffLoad(1, 250), _ledger.Load(1));
    }

    [Fact]
    public void Flushed_only_once_stopped_with_nothing_pending_or_in_flight()
    {
        var sent = SendTo(1, 0, 10);
        _ledger.Accept(11, 0);
        Assert.False(_ledger.IsFlushed);

        _ledger.Stop();
        Assert.False(_ledger.IsFlushed);
        _ledger.Sent(2, now: 0);
        Assert.False(_ledger.IsFlushed);
        _ledger.OnAcks(2, [(sent[0].Id + 1, true)]);
        Assert.False(_ledger.IsFlushed);
        _ledger.OnAcks(1, [(sent[0].Id, true)]);
        Assert.True(_ledger.IsFlushed);
    }

    [Fact]
    public void A_ledger_never_stopped_is_not_flushed_even_when_empty() => Assert.False(_ledger.IsFlushed);

    [Fact]
    public void Clear_returns_every_descriptor_still_held()
    {
        SendTo(1, 0, 10);
        _ledger.Accept(11, 0);

        Assert.Equal([10, 11], _ledger.Clear().Order());
        Assert.Equal(0, _ledger.Pending);
        Assert.False(_ledger.TryPeek(out _));
    }
}
