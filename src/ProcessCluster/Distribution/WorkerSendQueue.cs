using System.ComponentModel;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Distribution;

internal enum SendOutcome
{
    /// <summary>The connections went out (their descriptors with the frame's first byte).</summary>
    Sent,

    /// <summary>The worker's channel has no room: nothing went out, the connections are still the caller's.</summary>
    Blocked,

    /// <summary>The channel is closed or failed: the worker is going.</summary>
    Broken,
}

/// <summary>
/// Hand-offs to one worker, never waiting for it: a frame goes out with a non-blocking send or not at all, so a worker
/// that stops reading (a long GC pause, a hang) costs the others nothing. When its channel is full, a watcher waits for
/// room and reports it (<paramref name="writable"/>); a channel that stays full past <paramref name="unresponsiveAfter"/>
/// is shut down and reported once (<paramref name="unresponsive"/>), and so is one that leaves what it was sent unread
/// (<see cref="CheckReading"/>); a broken one is shut down too (<see cref="SendOutcome.Broken"/>).
/// Application messages (WorkerHandle.Send) go the same way, through their own queue (MessageOutbox).
/// </summary>
internal sealed class WorkerSendQueue(
    int workerId, IpcChannel channel, TimeSpan unresponsiveAfter, Action<int> writable, Action<int> unresponsive) : IDisposable
{
    private int _watching;
    private int _gaveUp;
    private long? _unreadSince;
    private volatile bool _closed;

    /// <summary>Sends connections in one frame, one sendmsg: at most <see cref="SocketInterop.MaxFdsPerMessage"/>.</summary>
    public SendOutcome TrySend(IReadOnlyList<Handoff> handoffs)
    {
        Span<byte> payload = stackalloc byte[handoffs.Count * FrameFormat.NewConnectionEntrySize];
        Span<int> fds = stackalloc int[handoffs.Count];
        for (var i = 0; i < handoffs.Count; i++)
        {
            FrameFormat.WriteNewConnection(payload[(i * FrameFormat.NewConnectionEntrySize)..], handoffs[i].Id, handoffs[i].Endpoint);
            fds[i] = handoffs[i].Fd;
        }

        try
        {
            var sent = channel.TrySend(FrameType.NewConnection, payload, fds);
            if (!sent || channel.HasUnsentTail)
            {
                // Full (or the frame's tail waits for room, and must go out even if no other hand-off follows).
                Watch();
            }

            return sent ? SendOutcome.Sent : SendOutcome.Blocked;
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            Drop();
            return SendOutcome.Broken;
        }
    }

    /// <summary>
    /// Called about every half bound (times in ms). A worker that stops reading at its bound of hand-offs (8 small
    /// frames) never fills its channel, so the watcher never starts and what it holds would wait for it for ever. So: a
    /// worker that has held a hand-off unacknowledged past the bound, and has left its channel unread for half the
    /// bound since, does not read it. A slow worker that still reads has nothing unread.
    /// </summary>
    public void CheckReading(long now, HandoffLoad held)
    {
        try
        {
            var bound = (long)unresponsiveAfter.TotalMilliseconds;
            if (held.InFlight == 0 || now - held.OldestSentAt <= bound || _closed || !channel.HasUnread)
            {
                _unreadSince = null;
            }
            else if (_unreadSince is not { } since)
            {
                _unreadSince = now;
            }
            else if (now - since >= bound / 2)
            {
                GiveUp();
            }
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // The channel closed under it: the worker is going, and its session reports that.
        }
    }

    public void Dispose() => _closed = true;

    /// <summary>
    /// One thread per blocked spell, waiting in poll for exactly as long as the bound allows: a blocked worker is rare
    /// and brief, so this is simpler than a shared poller with a wake-up pipe, and it wakes the moment the socket drains
    /// instead of on a timer tick.
    /// </summary>
    private void Watch()
    {
        if (Interlocked.Exchange(ref _watching, 1) == 0)
        {
            new Thread(WaitForRoom) { IsBackground = true, Name = $"cluster-send-{workerId}" }.Start();
        }
    }

    private void WaitForRoom()
    {
        var deadline = Environment.TickCount64 + (long)unresponsiveAfter.TotalMilliseconds;
        try
        {
            while (!_closed)
            {
                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    GiveUp();
                    return;
                }

                if (channel.WaitWritable(TimeSpan.FromMilliseconds(left)) && channel.TryFlush())
                {
                    Volatile.Write(ref _watching, 0);
                    writable(workerId);
                    return;
                }
            }
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // The channel closed under it: the worker is going, and its session reports that.
        }
    }

    /// <summary>Drops the channel of a worker that does not read it, and says so once (the watcher and the check may both find it).</summary>
    private void GiveUp()
    {
        if (Interlocked.Exchange(ref _gaveUp, 1) == 0)
        {
            Drop();
            unresponsive(workerId);
        }
    }

    /// <summary>Shuts the worker's channel down: the worker sees it close and exits, and is replaced.</summary>
    private void Drop()
    {
        _closed = true;
        channel.Shutdown();
    }
}
