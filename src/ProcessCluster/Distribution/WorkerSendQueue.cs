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
/// that stops reading (a long GC pause, a hang) costs the others nothing. The channel's outbox (<see cref="ChannelOutbox"/>,
/// with no room for hand-offs: the connections stay the dispatcher's) waits for room when it is full and reports it
/// (<paramref name="writable"/>); a channel that stays full past <paramref name="unresponsiveAfter"/> is shut down and
/// reported once (<paramref name="unresponsive"/>), and so is one that leaves what it was sent unread
/// (<see cref="CheckReading"/>); a broken one is shut down too (<see cref="SendOutcome.Broken"/>).
/// </summary>
internal sealed class WorkerSendQueue(
    int workerId, IpcChannel channel, TimeSpan unresponsiveAfter, Action<int> writable, Action<int> unresponsive) : IDisposable
{
    private readonly ChannelOutbox _outbox = new(
        workerId, channel, FrameType.NewConnection, bound: 0, giveUpWhenFull: false, unresponsiveAfter, _ => unresponsive(workerId), () => writable(workerId));

    private long? _unreadSince;

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

        return _outbox.Post(payload, fds) switch
        {
            PostOutcome.Sent => SendOutcome.Sent,
            PostOutcome.Full => SendOutcome.Blocked,
            _ => SendOutcome.Broken,
        };
    }

    /// <summary>
    /// Called about every half bound (times in ms). A worker that stops reading at its bound of hand-offs (8 small
    /// frames) never fills its channel, so the outbox never waits and what it holds would wait for it for ever. So: a
    /// worker that has held a hand-off unacknowledged past the bound, and has left its channel unread for half the
    /// bound since, does not read it. A slow worker that still reads has nothing unread.
    /// </summary>
    public void CheckReading(long now, HandoffLoad held)
    {
        try
        {
            var bound = (long)unresponsiveAfter.TotalMilliseconds;
            if (held.InFlight == 0 || now - held.OldestSentAt <= bound || _outbox.IsClosed || !channel.HasUnread)
            {
                _unreadSince = null;
            }
            else if (_unreadSince is not { } since)
            {
                _unreadSince = now;
            }
            else if (now - since >= bound / 2)
            {
                _outbox.GiveUp();
            }
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // The channel closed under it: the worker is going, and its session reports that.
        }
    }

    public void Dispose() => _outbox.Close();
}
