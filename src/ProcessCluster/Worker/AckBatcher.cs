using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// Acknowledgements of handed-over connections (taken, or refused back to the primary). They leave in batches, one
/// frame for all that gathered while a flush was pending, so a busy worker pays one send (and the primary one
/// wake-up) for many connections.
/// </summary>
internal sealed class AckBatcher(PrimaryConnection primary)
{
    private readonly List<(long ConnectionId, bool Accepted)> _pending = [];
    private bool _flushScheduled;

    public void Acknowledge(long connectionId, bool accepted)
    {
        lock (_pending)
        {
            _pending.Add((connectionId, accepted));
            if (_flushScheduled)
            {
                return;
            }

            _flushScheduled = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static batcher => batcher.Flush(), this, preferLocal: false);
    }

    private void Flush()
    {
        byte[] payload;
        lock (_pending)
        {
            payload = FrameFormat.WriteAcks(_pending);
            _pending.Clear();
            _flushScheduled = false;
        }

        primary.TrySend(FrameType.Ack, payload);
    }
}
