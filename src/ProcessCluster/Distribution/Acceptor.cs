using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;

namespace ProcessCluster.Distribution;

/// <summary>
/// Accepts connections on the primary's listening sockets, one thread per endpoint, and hands them on in batches: each
/// wake-up takes every connection the kernel has ready (up to <see cref="MaxBatch"/>), so under load the taker pays
/// one lock and one dispatch for many. On stop, takes what the kernel had already accepted (the backlog) first, since
/// closing a listening socket resets it. While the taker holds <paramref name="maxHeld"/> connections it does not
/// accept: they wait in the kernel's backlog.
/// </summary>
/// <param name="accepted">Takes connections (descriptors, endpoint index); false once it has stopped, and the connections are closed.</param>
internal sealed class Acceptor(IReadOnlyList<BoundEndpoint> endpoints, int maxHeld, Func<IReadOnlyList<int>, int, bool> accepted, ILogger logger)
{
    /// <summary>The most connections one wake-up takes before handing them on, so the first is not held back long.</summary>
    public const int MaxBatch = 64;

    private readonly List<(BoundEndpoint Endpoint, Thread Thread)> _threads = [];
    private readonly object _gate = new();
    private int _held;
    private volatile bool _stopping;

    public void Start()
    {
        foreach (var endpoint in endpoints)
        {
            // Accept until EAGAIN, then wait in poll for at most a wake interval, so a thread can be stopped without
            // shutting its socket down (an in-place upgrade passes the socket on, still listening). Not systemd's
            // (AcceptsBlocking): that one keeps a blocking accept with its wake-up timeout, one at a time.
            if (endpoint.AcceptsBlocking)
            {
                SocketInterop.SetBlocking(endpoint.Fd);
            }
            else
            {
                SocketInterop.SetNonBlocking(endpoint.Fd);
            }

            var thread = new Thread(() => AcceptLoop(endpoint)) { IsBackground = true, Name = $"cluster-accept-{endpoint.Name}" };
            _threads.Add((endpoint, thread));
            thread.Start();
        }
    }

    /// <summary>Hands on every connection the kernel has already accepted, without waiting for more.</summary>
    public void DrainBacklog()
    {
        foreach (var endpoint in endpoints)
        {
            SocketInterop.SetNonBlocking(endpoint.Fd);
            var backlog = new List<int>();
            int fd;
            while ((fd = SocketInterop.Accept(endpoint.Fd, out _)) >= 0)
            {
                backlog.Add(fd);
            }

            Hand(backlog, endpoint);

            if (endpoint.AcceptsBlocking)
            {
                // The mode belongs to the socket, not to this descriptor: the next primary would find it non-blocking.
                SocketInterop.SetBlocking(endpoint.Fd);
            }
        }
    }

    /// <summary>How many connections the taker holds now.</summary>
    public void Held(int count)
    {
        lock (_gate)
        {
            _held = count;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Stops accepting on the sockets systemd passed and waits until their threads are out of accept (they look up
    /// every <see cref="SocketActivation.AcceptWakeInterval"/>): call while the taker still takes, so nothing they
    /// accept meanwhile is lost; what arrives later waits in the kernel for the next primary.
    /// </summary>
    public void StopBlockingAccepts()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        _threads.Where(entry => entry.Endpoint.AcceptsBlocking).ToList().ForEach(entry => entry.Thread.Join());
    }

    /// <summary>
    /// Stops every accept thread, leaving the sockets listening: what arrives meanwhile waits in the kernel's queue
    /// (for <see cref="Resume"/>, or for the program an in-place upgrade executes). Takes up to one wake interval.
    /// </summary>
    public void Pause()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        _threads.ForEach(entry => entry.Thread.Join());
        _threads.Clear();
    }

    /// <summary>Accepts again after <see cref="Pause"/>.</summary>
    public void Resume()
    {
        lock (_gate)
        {
            _stopping = false;
        }

        Start();
    }

    /// <summary>Wakes the accept threads and waits for them; call once the taker has stopped.</summary>
    public void Stop()
    {
        StopBlockingAccepts();

        // Shutting a socket down refuses what comes next and wakes its thread.
        foreach (var endpoint in endpoints.Where(endpoint => endpoint.ShutDownOnStop))
        {
            SocketInterop.Shutdown(endpoint.Fd);
        }

        _threads.ForEach(entry => entry.Thread.Join());
    }

    private void AcceptLoop(BoundEndpoint endpoint)
    {
        var batch = new List<int>(MaxBatch);
        int room;
        while ((room = WaitForRoom()) > 0)
        {
            var limit = endpoint.AcceptsBlocking ? 1 : Math.Min(room, MaxBatch);
            var errno = 0;
            batch.Clear();
            while (batch.Count < limit && SocketInterop.Accept(endpoint.Fd, out errno) is var fd and >= 0)
            {
                batch.Add(fd);
            }

            if (batch.Count > 0)
            {
                if (!Hand(batch, endpoint))
                {
                    return;
                }
            }
            else if (_stopping)
            {
                return;
            }
            else if (errno == Libc.EAGAIN && !endpoint.AcceptsBlocking)
            {
                // Woken by a connection, or after the interval to look whether to stop; the next accept tells which.
                Span<Libc.PollFd> listening = [new Libc.PollFd { Fd = endpoint.Fd, Events = Libc.POLLIN }];
                PollInterop.Poll(listening, (int)SocketActivation.AcceptWakeInterval.TotalMilliseconds);
            }
            else if (errno is not (Libc.EINTR or Libc.EAGAIN))
            {
                // EMFILE and the like: back off briefly rather than spin; the connection waits in the backlog.
                logger.LogWarning("accept on {Url} failed with errno {Errno}", endpoint.Url, errno);
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>How many more connections the taker has room for, once it has any; 0 once stopping.</summary>
    private int WaitForRoom()
    {
        lock (_gate)
        {
            while (_held >= maxHeld && !_stopping)
            {
                Monitor.Wait(_gate);
            }

            return _stopping ? 0 : maxHeld - _held;
        }
    }

    private bool Hand(List<int> fds, BoundEndpoint endpoint)
    {
        if (fds.Count == 0 || accepted(fds, endpoint.Index))
        {
            return true;
        }

        fds.ForEach(SocketInterop.Close);
        return false;
    }
}
