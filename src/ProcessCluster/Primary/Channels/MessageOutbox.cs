using System.ComponentModel;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary.Channels;

/// <summary>
/// Application messages to one worker (<see cref="WorkerHandle.Send(object)"/>), never waiting for it, whichever thread
/// sends (the loop's, when an app's event handler answers): a message goes out with a non-blocking send, or waits
/// here, in order, while the worker's channel is full, and a writer thread sends what waits as room comes. As with
/// hand-offs (<c>WorkerSendQueue</c>), a worker that leaves its channel full past <paramref name="unresponsiveAfter"/>
/// while messages wait, or lets <see cref="Bound"/> of them pile up, does not read: its channel is shut down and
/// <paramref name="unresponsive"/> is called once (the loop kills it as hung).
/// </summary>
internal sealed class MessageOutbox(int workerId, IpcChannel channel, TimeSpan unresponsiveAfter, Action<int> unresponsive)
{
    /// <summary>Messages that may wait for one worker's channel; as many as wait the other way (WorkerHandle).</summary>
    public const int Bound = 64;

    private readonly Queue<byte[]> _waiting = new();
    private bool _writing;
    private bool _closed;

    /// <summary>Sends or queues one message; false when the channel is closed (or was just given up on, and this message with it).</summary>
    public bool Send(byte[] json)
    {
        lock (_waiting)
        {
            if (_closed)
            {
                return false;
            }

            // Behind others waiting, a message waits too: messages arrive in order.
            if (!_writing && channel.TrySend(FrameType.Message, json))
            {
                if (channel.HasUnsentTail)
                {
                    // The frame's tail must go out even if no other message follows.
                    StartWriter();
                }

                return true;
            }

            if (_waiting.Count < Bound)
            {
                _waiting.Enqueue(json);
                StartWriter();
                return true;
            }
        }

        GiveUp();
        return false;
    }

    /// <summary>The channel is gone (the worker's session ended): what waits is dropped, and nothing is reported.</summary>
    public void Close()
    {
        lock (_waiting)
        {
            _closed = true;
            _waiting.Clear();
        }
    }

    /// <summary>Under the lock: one writer per blocked spell (a full channel is rare and brief, as for hand-offs).</summary>
    private void StartWriter()
    {
        if (!_writing)
        {
            _writing = true;
            new Thread(Write) { IsBackground = true, Name = $"cluster-messages-{workerId}" }.Start();
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
                        return;
                    }

                    if (progressed)
                    {
                        deadline = Environment.TickCount64 + (long)unresponsiveAfter.TotalMilliseconds;
                    }
                }

                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    GiveUp();
                    return;
                }

                channel.WaitWritable(TimeSpan.FromMilliseconds(left));
            }
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // The channel closed under it: the worker is going, and its session reports that.
            Close();
        }
    }

    /// <summary>Under the lock: sends the first message waiting, or what is left of a half-sent frame; false when nothing (more) went out.</summary>
    private bool TrySendNext()
    {
        if (_waiting.Count == 0)
        {
            return channel.HasUnsentTail && channel.TryFlush();
        }

        if (!channel.TrySend(FrameType.Message, _waiting.Peek()))
        {
            return false;
        }

        _waiting.Dequeue();
        return true;
    }

    /// <summary>Drops the channel of a worker that does not read it, and says so once (a sender and the writer may both find it).</summary>
    private void GiveUp()
    {
        lock (_waiting)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _waiting.Clear();
        }

        // The worker sees its channel close and exits; the loop kills it if it does not.
        channel.Shutdown();
        unresponsive(workerId);
    }
}
