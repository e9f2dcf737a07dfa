using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary.Channels;

/// <summary>
/// Relays SignalR backplane messages (<see cref="FrameType.Backplane"/>) from each worker to every other worker that
/// subscribed, in the order each sender sent them. Each receiver has its own bounded outbox (<see cref="ChannelOutbox"/>),
/// so a slow worker never holds up the sender or the others: what does not fit its outbox is dropped, and so is what
/// was left for a worker that went away or whose channel stayed full past the bound; all are counted
/// (<see cref="Dropped"/>) and logged once per worker.
/// </summary>
internal sealed class BackplaneRelay(ILogger logger, int outboxCapacity = BackplaneRelay.DefaultOutboxCapacity) : IDisposable
{
    /// <summary>Messages that may wait for one worker; a worker further behind than that loses messages.</summary>
    public const int DefaultOutboxCapacity = 4096;

    /// <summary>How long a worker's channel may stay full while messages wait for it before it is shut down, as for the primary's other sends.</summary>
    private static readonly TimeSpan UnresponsiveAfter = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<int, Subscriber> _subscribers = new();
    private long _dropped;

    /// <summary>Messages not delivered to a worker: its outbox was full, its channel failed, or it went away.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// A worker's Backplane frame, read whole (a malformed one throws <see cref="System.Net.ProtocolViolationException"/>
    /// and drops the sender's channel): a subscription, or a message for every other subscriber.
    /// </summary>
    public void Receive(int workerId, IpcChannel channel, Frame frame)
    {
        var message = BackplaneMessage.Read(frame.Payload);
        if (message.Kind == BackplaneKind.Subscribe)
        {
            _subscribers.GetOrAdd(workerId, id => new Subscriber(id, channel, outboxCapacity, this));
            return;
        }

        foreach (var (id, subscriber) in _subscribers)
        {
            if (id != workerId)
            {
                subscriber.Post(frame.Payload);
            }
        }
    }

    /// <summary>The worker's channel closed: what waits for it is dropped, and it gets nothing more.</summary>
    public void Remove(int workerId)
    {
        if (_subscribers.TryRemove(workerId, out var subscriber))
        {
            subscriber.Close();
        }
    }

    public void Dispose()
    {
        foreach (var id in _subscribers.Keys)
        {
            Remove(id);
        }
    }

    private void Drop(int workerId, int count, ref int logged, string why)
    {
        Interlocked.Add(ref _dropped, count);
        if (Interlocked.Exchange(ref logged, 1) == 0)
        {
            logger.LogWarning("Worker {WorkerId} loses SignalR backplane messages: {Why} (logged once per worker; see processcluster.backplane.dropped)", workerId, why);
        }
    }

    /// <summary>One receiving worker: its outbox, and whether its losses were logged yet.</summary>
    private sealed class Subscriber
    {
        private readonly int _workerId;
        private readonly BackplaneRelay _relay;
        private readonly ChannelOutbox _outbox;
        private int _logged;

        public Subscriber(int workerId, IpcChannel channel, int capacity, BackplaneRelay relay)
        {
            (_workerId, _relay) = (workerId, relay);
            _outbox = new ChannelOutbox(
                workerId, channel, FrameType.Backplane, capacity, giveUpWhenFull: false, UnresponsiveAfter, dropped => Drop(dropped, "its channel failed"));
        }

        public void Post(byte[] payload)
        {
            switch (_outbox.Post(payload))
            {
                case PostOutcome.Full:
                    Drop(1, "it reads them too slowly");
                    break;
                case PostOutcome.Closed:
                    Drop(1, "it has gone");
                    break;
            }
        }

        public void Close()
        {
            var left = _outbox.Close();
            if (left > 0)
            {
                Drop(left, "it has gone");
            }
        }

        private void Drop(int count, string why) => _relay.Drop(_workerId, count, ref _logged, why);
    }
}
