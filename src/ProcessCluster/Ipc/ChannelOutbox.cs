using System.ComponentModel;
using System.Diagnostics;

namespace ProcessCluster.Ipc;

internal enum PostOutcome
{
    /// <summary>The frame went out (its descriptors with its first byte), or waits in order in the outbox.</summary>
    Sent,

    /// <summary>No room on the channel nor in the outbox: nothing went out or waits; the payload and descriptors are still the caller's.</summary>
    Full,

    /// <summary>The outbox is closed: the worker went, its channel failed, or it was given up on (this frame with it).</summary>
    Closed,
}

/// <summary>
/// Frames of one type to one worker, never waiting for it, whichever thread posts: a frame goes out with a
/// non-blocking send, or waits here, in order, up to <paramref name="bound"/> frames, while the channel is full; a
/// writer thread sends what waits, and the tail of a half-sent frame, as room comes, then calls
/// <paramref name="room"/>. A worker that leaves its channel full past <paramref name="unresponsiveAfter"/> does not
/// read: its channel is shut down and <paramref name="gaveUp"/> is called once with the number of frames dropped (so
/// is it for <see cref="GiveUp"/>). What to do when the outbox is full is the caller's: give up on the worker
/// (<paramref name="giveUpWhenFull"/>), or take <see cref="PostOutcome.Full"/> and drop the frame, or keep it for
/// <paramref name="room"/>. Descriptors never wait here: an outbox that carries them has a bound of 0.
/// </summary>
internal sealed class ChannelOutbox(
    int workerId,
    IpcChannel channel,
    FrameType type,
    int bound,
    bool giveUpWhenFull,
    TimeSpan unresponsiveAfter,
    Action<int> gaveUp,
    Action? room = null)
{
    private readonly Queue<byte[]> _waiting = new();
    private bool _writing;
    private bool _closed;

    public bool IsClosed
    {
        get
        {
            lock (_waiting)
            {
                return _closed;
            }
        }
    }

    public PostOutcome Post(ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        lock (_waiting)
        {
            if (_closed)
            {
                return PostOutcome.Closed;
            }

            try
            {
                // Behind others waiting, a frame waits too: frames arrive in order.
                if (!_writing && channel.TrySend(type, payload, fds))
                {
                    if (channel.HasUnsentTail)
                    {
                        // The frame's tail must go out even if no other frame follows.
                        StartWriter();
                    }

                    return PostOutcome.Sent;
                }
            }
            catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
            {
                // The worker is going: its channel is shut down, and its session reports that.
                _closed = true;
                channel.Shutdown();
                return PostOutcome.Closed;
            }

            if (_waiting.Count < bound)
            {
                Debug.Assert(fds.IsEmpty, "descriptors never wait in an outbox");
                _waiting.Enqueue(payload.ToArray());
                StartWriter();
                return PostOutcome.Sent;
            }

            if (!giveUpWhenFull)
            {
                // The writer tells of room (it runs already when frames wait).
                StartWriter();
                return PostOutcome.Full;
            }
        }

        GiveUp();
        return PostOutcome.Closed;
    }

    /// <summary>The channel is gone (the worker's session ended): what waits is dropped, and returned as a count; nothing is reported.</summary>
    public int Close()
    {
        lock (_waiting)
        {
            _closed = true;
            var dropped = _waiting.Count;
            _waiting.Clear();
            return dropped;
        }
    }

    /// <summary>Drops the channel of a worker that does not read it, and says so once (a poster, the writer and a check may all find it).</summary>
    public void GiveUp()
    {
        int dropped;
        lock (_waiting)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            dropped = _waiting.Count;
            _waiting.Clear();
        }

        // The worker sees its channel close and exits; the loop kills it if it does not.
        channel.Shutdown();
        gaveUp(dropped);
    }

    /// <summary>
    /// Under the lock: one writer thread per blocked spell, waiting in poll for exactly as long as the bound allows. A
    /// full channel is rare and brief, so this is simpler than a shared poller with a wake-up pipe, and it wakes the
    /// moment the socket drains instead of on a timer tick.
    /// </summary>
    private void StartWriter()
    {
        if (!_writing)
        {
            _writing = true;
            new Thread(Write) { IsBackground = true, Name = $"cluster-{type}-{workerId}" }.Start();
        }
    }

    /// <summary>Sends what waits as room comes; gives up when nothing went out for the bound.</summary>
    private void Write()
    {
        var deadline = Environment.TickCount64 + (long)unresponsiveAfter.TotalMilliseconds;
        try
        {
            while (true)
            {
                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    GiveUp();
                    return;
                }

                if (!channel.WaitWritable(TimeSpan.FromMilliseconds(left)))
                {
                    continue;
                }

                lock (_waiting)
                {
                    var progressed = false;
                    while (!_closed && TrySendNext())
                    {
                        progressed = true;
                    }

                    if (_closed || (_waiting.Count == 0 && !channel.HasUnsentTail))
                    {
                        _writing = false;
                        break;
                    }

                    if (progressed)
                    {
                        deadline = Environment.TickCount64 + (long)unresponsiveAfter.TotalMilliseconds;
                    }
                }
            }

            if (!IsClosed)
            {
                room?.Invoke();
            }
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // The channel closed under it: the worker is going, and its session reports that (and closes this outbox).
            lock (_waiting)
            {
                _closed = true;
            }
        }
    }

    /// <summary>Under the lock: sends the first frame waiting, or what is left of a half-sent one; false when nothing (more) went out.</summary>
    private bool TrySendNext()
    {
        if (_waiting.Count == 0)
        {
            return channel.HasUnsentTail && channel.TryFlush();
        }

        if (!channel.TrySend(type, _waiting.Peek()))
        {
            return false;
        }

        _waiting.Dequeue();
        return true;
    }
}
