using System.Net;
using System.Net.Sockets;
using ProcessCluster.Interop;

namespace ProcessCluster.Distribution;

/// <summary>
/// ReusePort scheduling: each worker accepts on its own listening socket, one member of the endpoint's SO_REUSEPORT
/// group, and the kernel gives each new connection to a member chosen by a BPF program; no process stands between
/// the client and the worker. The primary opens every member (a slot: one socket per endpoint) and keeps them all
/// open while the cluster runs, so nothing queued on a member is reset when its worker dies: the slot, queue and all,
/// goes to the next worker that starts, first among free slots. Slots are reused, never closed, so the group's
/// indices stay dense and fixed; the program is re-attached with the serving slots whenever they change, so a new
/// connection goes only to a worker that accepts. A Unix domain socket has no group: every slot shares its socket.
/// </summary>
internal sealed class ReusePortDistribution : IConnectionDistribution
{
    private readonly IReadOnlyList<BoundEndpoint> _endpoints;
    private readonly IdleQueueWatcher _watcher;
    private readonly object _slotsGate = new();
    private readonly ReusePortSlots _slots = new();

    /// <summary>Slot 1 onwards (slot 0 is the endpoints' own sockets): one socket per endpoint, null for a Unix socket's share.</summary>
    private readonly List<Socket?[]> _opened = [];

    private readonly int _backlog;
    private IReadOnlyList<int>? _steering;

    /// <summary>The primary's copies are closed (the cluster stops): the workers leaving now change no program.</summary>
    private bool _closed;

    public ReusePortDistribution(IReadOnlyList<BoundEndpoint> endpoints, int backlog)
    {
        if (endpoints.FirstOrDefault(endpoint => endpoint.Origin == SocketOrigin.Systemd) is { } adopted)
        {
            throw new InvalidOperationException(
                $"Cluster:Scheduling=ReusePort cannot use the socket systemd passed for {adopted.Url}: the group's sockets are the primary's own; use Shared or RoundRobin with socket activation");
        }

        (_endpoints, _backlog) = (endpoints, backlog);
        _watcher = new IdleQueueWatcher(FdsOf(0));
    }

    public event Action? Waiting
    {
        add => _watcher.Waiting += value;
        remove => _watcher.Waiting -= value;
    }

    public void Start() => _watcher.Start();

    /// <summary>Gives the worker its slot (opening it when every slot is taken) and returns that slot's sockets.</summary>
    public int[] ListenFdsFor(int workerId)
    {
        lock (_slotsGate)
        {
            // A worker coming up while the cluster stops has nothing to accept on: it must not open new members.
            ObjectDisposedException.ThrowIf(_closed, this);
            var slot = _slots.Assign(workerId, HasQueued);
            if (_opened.Count < slot)
            {
                while (_opened.Count < slot)
                {
                    _opened.Add(OpenSlot());
                }

                // While no worker serves, connections may wait on any slot's member.
                _watcher.Watch(Enumerable.Range(0, _opened.Count + 1).SelectMany(FdsOf));
            }

            Steer();
            return FdsOf(slot);
        }
    }

    public void AddWorker(int workerId, Ipc.IpcChannel channel)
    {
        Update(slots => slots.Serve(workerId));
        _watcher.Serving(workerId, true);
    }

    public void Retire(int workerId)
    {
        Update(slots => slots.Retire(workerId));
        _watcher.Serving(workerId, false);
    }

    public void RemoveWorker(int workerId)
    {
        Update(slots => slots.Release(workerId));
        _watcher.Serving(workerId, false);
    }

    /// <summary>
    /// At the stop, closes the primary's copies; a worker's member keeps listening until that worker has drained it.
    /// A free slot's member closes for good here, with whatever it still queues (a connection that reached a leaving
    /// worker's member after its last accept): where net.ipv4.tcp_migrate_req is 1 those are closed first, before the
    /// drop filter, so that the kernel moves them to a member still listening instead of resetting them.
    /// </summary>
    public Task StopAcceptingAsync()
    {
        _watcher.Stop();
        lock (_slotsGate)
        {
            if (ProcFs.MigratesReusePortRequests())
            {
                foreach (var slot in _slots.Free().Where(slot => slot > 0))
                {
                    _opened[slot - 1].OfType<Socket>().ToList().ForEach(socket => socket.Dispose());
                }
            }

            foreach (var socket in _opened.SelectMany(slot => slot).OfType<Socket>().Where(socket => !socket.SafeHandle.IsClosed))
            {
                SocketInterop.DropIncoming((int)socket.SafeHandle.DangerousGetHandle());
                socket.Dispose();
            }

            _opened.Clear();
            _closed = true;
        }

        foreach (var endpoint in _endpoints)
        {
            endpoint.CloseOnStop();
        }

        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _watcher.Dispose();
        lock (_slotsGate)
        {
            _opened.SelectMany(slot => slot).OfType<Socket>().ToList().ForEach(socket => socket.Dispose());
            _opened.Clear();
        }
    }

    private void Update(Action<ReusePortSlots> change)
    {
        lock (_slotsGate)
        {
            change(_slots);
            Steer();
        }
    }

    /// <summary>Re-attaches the program when the slots that get new connections changed; the kernel swaps it atomically.</summary>
    private void Steer()
    {
        var steering = _slots.Steering();
        if (_closed || steering is null || (_steering is not null && steering.SequenceEqual(_steering)))
        {
            return;
        }

        var program = ReusePortProgram.For(steering);
        foreach (var endpoint in _endpoints.Where(endpoint => endpoint.Bound is IPEndPoint))
        {
            SocketInterop.AttachReusePortProgram(endpoint.Fd, program);
        }

        _steering = steering;
    }

    private bool HasQueued(int slot) => slot <= _opened.Count && PollInterop.AnyReadable(FdsOf(slot), TimeSpan.Zero);

    private int[] FdsOf(int slot) => _endpoints
        .Select((endpoint, index) => slot == 0 || _opened[slot - 1][index] is not { } socket ? endpoint.Fd : (int)socket.SafeHandle.DangerousGetHandle())
        .ToArray();

    /// <summary>A new member of each endpoint's group, added last, so its index is the slot's.</summary>
    private Socket?[] OpenSlot()
    {
        var sockets = new Socket?[_endpoints.Count];
        try
        {
            for (var index = 0; index < _endpoints.Count; index++)
            {
                if (_endpoints[index].Bound is IPEndPoint bound)
                {
                    sockets[index] = ListenSockets.Listen(bound, _backlog, reusePort: true);
                }
            }
        }
        catch
        {
            sockets.OfType<Socket>().ToList().ForEach(socket => socket.Dispose());
            throw;
        }

        return sockets;
    }
}
