using System.Collections.Concurrent;
using System.ComponentModel;
using Microsoft.Extensions.Logging;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary.Channels;

/// <summary>
/// Relays SignalR backplane messages (<see cref="FrameType.Backplane"/>) from each worker to every other worker that
/// subscribed, in the order each sender sent them. Each receiver has its own bounded outbox and sending thread, so a
/// slow worker never holds up the sender or the others: what does not fit its outbox is dropped, and so is what was
/// left for a worker that went away; both are counted (<see cref="Dropped"/>) and logged once per worker.
/// </summary>
internal sealed class BackplaneRelay(ILogger logger, int outboxCapacity = BackplaneRelay.DefaultOutboxCapacity) : IDisposable
{
    /// <summary>Messages that may wait for one worker; a worker further behind than that loses messages.</summary>
    public const int DefaultOutboxCapacity = 4096;

    private readonly ConcurrentDictionary<int, Outbox> _subscribers = new();
    private long _dropped;

    /// <summary>Messages not delivered to a worker: its outbox was full, or it went away.</summary>
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
            _subscribers.GetOrAdd(workerId, id => new Outbox(id, channel, outboxCapacity, this));
            return;
        }

        foreach (var (id, outbox) in _subscribers)
        {
            if (id != workerId)
            {
                outbox.Post(frame.Payload);
            }
        }
    }

    /// <summary>The worker's channel closed: what waits for it is dropped, and it gets nothing more.</summary>
    public void Remove(int workerId)
    {
        if (_subscribers.TryRemove(workerId, out var outbox))
        {
            outbox.Close();
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

    private sealed class Outbox
    {
        private readonly int _workerId;
        private readonly IpcChannel _channel;
        private readonly BackplaneRelay _relay;
        private readonly BlockingCollection<byte[]> _queue;
        private int _logged;

        public Outbox(int workerId, IpcChannel channel, int capacity, BackplaneRelay relay)
        {
            (_workerId, _channel, _relay) = (workerId, channel, relay);
            _queue = new BlockingCollection<byte[]>(capacity);
            new Thread(SendAll) { IsBackground = true, Name = $"cluster-backplane-{workerId}" }.Start();
        }

        public void Post(byte[] payload)
        {
            try
            {
                if (!_queue.TryAdd(payload))
                {
                    _relay.Drop(_workerId, 1, ref _logged, "it reads them too slowly");
                }
            }
            catch (InvalidOperationException)
            {
                _relay.Drop(_workerId, 1, ref _logged, "it has gone");
            }
        }

        public void Close()
        {
            _queue.CompleteAdding();
            var left = 0;
            while (_queue.TryTake(out _))
            {
                left++;
            }

            if (left > 0)
            {
                _relay.Drop(_workerId, left, ref _logged, "it has gone");
            }
        }

        private void SendAll()
        {
            foreach (var payload in _queue.GetConsumingEnumerable())
            {
                try
                {
                    // The channel's blocking send, bounded by its send timeout: only this worker's thread waits.
                    _channel.Send(FrameType.Backplane, payload);
                }
                catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
                {
                    _relay.Drop(_workerId, 1, ref _logged, "its channel failed");
                    _channel.Shutdown();
                    Close();
                    return;
                }
            }
        }
    }
}
