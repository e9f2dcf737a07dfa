using System.Diagnostics;
using ProcessCluster.Interop;

namespace ProcessCluster.Distribution;

/// <summary>
/// Reads the start of each new connection without taking it (MSG_PEEK) to find the worker its connection token names
/// (<see cref="AffinityToken.Route"/>), on one thread of its own polling every connection it waits on, so a client slow
/// to send never holds up the accept threads or another connection. It stops at the end of the request line, at
/// <see cref="MaxBytes"/> or at the deadline, whichever comes first, then hands the connection on with what it found.
/// </summary>
/// <param name="routed">Takes a connection: descriptor, endpoint index, and the worker its token named (null: none).</param>
internal sealed class RequestPeeker(TimeSpan deadline, Action<int, int, int?> routed) : IDisposable
{
    /// <summary>A request line longer than this is routed on what it has shown.</summary>
    public const int MaxBytes = 4096;

    /// <summary>A connection that sent part of its request line is looked at again this often (poll would say "readable" at once).</summary>
    private const int PartialRetryMilliseconds = 2;

    private readonly object _gate = new();
    private readonly List<Waiting> _waiting = [];
    private readonly (int Read, int Write) _wake = PeekInterop.OpenWakePipe();
    private Thread? _thread;
    private bool _stopped;

    /// <summary>Connections waiting to be routed.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count;
            }
        }
    }

    public void Add(int fd, int endpoint)
    {
        lock (_gate)
        {
            if (!_stopped)
            {
                _waiting.Add(new Waiting(fd, endpoint, NowMilliseconds() + (long)deadline.TotalMilliseconds));
                _thread ??= StartThread();
                PeekInterop.Wake(_wake.Write);
                Monitor.PulseAll(_gate);
                return;
            }
        }

        routed(fd, endpoint, null);
    }

    /// <summary>Hands on every waiting connection at once, unrouted, and routes none from now on (a stop).</summary>
    public void Flush()
    {
        List<Waiting> left;
        lock (_gate)
        {
            _stopped = true;
            left = [.. _waiting];
            _waiting.Clear();
            PeekInterop.Wake(_wake.Write);
            Monitor.PulseAll(_gate);
        }

        left.ForEach(entry => routed(entry.Fd, entry.Endpoint, null));
    }

    /// <summary>Stops the thread; call after <see cref="Flush"/>.</summary>
    public void Dispose()
    {
        Flush();
        _thread?.Join();
        SocketInterop.Close(_wake.Read);
        SocketInterop.Close(_wake.Write);
    }

    private Thread StartThread()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "cluster-peek" };
        thread.Start();
        return thread;
    }

    private void Run()
    {
        var buffer = new byte[MaxBytes];
        while (TakeWaiting() is { } waiting)
        {
            var now = NowMilliseconds();
            var polled = new Libc.PollFd[waiting.Count + 1];
            polled[0] = new Libc.PollFd { Fd = _wake.Read, Events = Libc.POLLIN };
            var timeout = waiting.Min(entry => entry.RetryAt > now ? Math.Min(entry.RetryAt, entry.Deadline) : entry.Deadline) - now;
            for (var i = 0; i < waiting.Count; i++)
            {
                // A partial request line is left out until its retry time; otherwise poll would return at once.
                polled[i + 1] = new Libc.PollFd { Fd = waiting[i].RetryAt > now ? -1 : waiting[i].Fd, Events = Libc.POLLIN };
            }

            PollInterop.Poll(polled, (int)Math.Clamp(timeout, 0, int.MaxValue));
            PeekInterop.Drain(_wake.Read);
            now = NowMilliseconds();
            for (var i = 0; i < waiting.Count; i++)
            {
                if (polled[i + 1].ReturnedEvents != 0 || now >= waiting[i].Deadline || (waiting[i].RetryAt != 0 && now >= waiting[i].RetryAt))
                {
                    Look(waiting[i], buffer, now);
                }
            }
        }
    }

    /// <summary>The connections waiting now; null once stopped with none left (waits while there are none).</summary>
    private List<Waiting>? TakeWaiting()
    {
        lock (_gate)
        {
            while (_waiting.Count == 0 && !_stopped)
            {
                Monitor.Wait(_gate);
            }

            return _waiting.Count == 0 ? null : [.. _waiting];
        }
    }

    private void Look(Waiting entry, byte[] buffer, long now)
    {
        var seen = PeekInterop.Peek(entry.Fd, buffer);
        var done = seen == 0 || seen >= MaxBytes || now >= entry.Deadline || (seen > 0 && buffer.AsSpan(0, seen).Contains((byte)'\n'));
        if (!done)
        {
            // Nothing yet, or part of the line: poll for more, or look again soon.
            entry.RetryAt = seen > 0 ? now + PartialRetryMilliseconds : 0;
            return;
        }

        lock (_gate)
        {
            if (!_waiting.Remove(entry))
            {
                // A flush took it meanwhile.
                return;
            }
        }

        routed(entry.Fd, entry.Endpoint, seen > 0 ? AffinityToken.Route(buffer.AsSpan(0, seen)) : null);
    }

    /// <summary>A fine monotonic clock: Environment.TickCount64 is the coarse one on Linux and ends a deadline a tick early.</summary>
    private static long NowMilliseconds() => Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1000);

    private sealed class Waiting(int fd, int endpoint, long deadline)
    {
        public int Fd { get; } = fd;

        public int Endpoint { get; } = endpoint;

        public long Deadline { get; } = deadline;

        /// <summary>When a connection that showed part of its request line is looked at again (0: when poll says so).</summary>
        public long RetryAt { get; set; }
    }
}
