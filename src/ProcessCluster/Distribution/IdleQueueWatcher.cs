using ProcessCluster.Interop;

namespace ProcessCluster.Distribution;

/// <summary>
/// For the modes where workers accept by themselves (Shared, ReusePort): while no worker serves (scaled to zero, or
/// between the last worker and the next), what arrives waits in the listening sockets' own queues, which the primary
/// keeps open. This thread polls them and says so (<see cref="Waiting"/>), so that the first connection brings a
/// worker, which then accepts it from the queue. It sleeps while some worker serves.
/// </summary>
internal sealed class IdleQueueWatcher : IDisposable
{
    /// <summary>How long one poll waits; it bounds how long a stop waits for the watcher before the sockets close.</summary>
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);

    private readonly object _gate = new();
    private readonly HashSet<int> _serving = [];
    private Libc.PollFd[] _watched;
    private Thread? _thread;
    private bool _stopped;

    public IdleQueueWatcher(IEnumerable<int> fds) => _watched = PollSet(fds);

    /// <summary>Raised from the watcher's thread, at most every <see cref="IConnectionDistribution.WaitingSpacing"/> while connections wait.</summary>
    public event Action? Waiting;

    public void Start()
    {
        _thread = new Thread(Watch) { IsBackground = true, Name = "cluster-shared-watch" };
        _thread.Start();
    }

    /// <summary>Replaces the sockets watched (ReusePort opened a slot); the poll set is built here, once per change.</summary>
    public void Watch(IEnumerable<int> fds)
    {
        var watched = PollSet(fds);
        lock (_gate)
        {
            _watched = watched;
        }
    }

    public void Serving(int workerId, bool serving)
    {
        lock (_gate)
        {
            _ = serving ? _serving.Add(workerId) : _serving.Remove(workerId);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Wakes the watcher, whether it sleeps or polls, and waits until it has gone: out of poll before the sockets close, as a closed descriptor's number may be reused at once.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }

        _thread?.Join();
    }

    public void Dispose() => Stop();

    private static Libc.PollFd[] PollSet(IEnumerable<int> fds) =>
        fds.Distinct().Select(fd => new Libc.PollFd { Fd = fd, Events = Libc.POLLIN }).ToArray();

    /// <summary>
    /// Sleeps while some worker serves; while none does, polls the sockets and raises <see cref="Waiting"/> for a
    /// connection in their queue, again every <see cref="IConnectionDistribution.WaitingSpacing"/> until a worker serves.
    /// </summary>
    private void Watch()
    {
        while (true)
        {
            Libc.PollFd[] watched;
            lock (_gate)
            {
                while (!_stopped && _serving.Count > 0)
                {
                    Monitor.Wait(_gate);
                }

                if (_stopped)
                {
                    return;
                }

                // Only this thread polls a set, and a change replaces it: the kernel's answers in it are this poll's.
                watched = _watched;
            }

            if (PollInterop.AnyReadable(watched, PollSlice))
            {
                Waiting?.Invoke();
                lock (_gate)
                {
                    // The connection stays in the queue, and poll says so at once: wait for a worker, or the spacing.
                    Monitor.Wait(_gate, IConnectionDistribution.WaitingSpacing);
                }
            }
        }
    }
}
