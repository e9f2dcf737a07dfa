using System.Net.Sockets;
using System.Threading.Channels;
using ProcessCluster.Interop;

namespace ProcessCluster.Worker;

/// <summary>
/// Where connections the primary hands to this worker wait for the server to accept them (RoundRobin mode).
/// A connection is acknowledged when the server takes it; until then the primary keeps its copy, so whatever is
/// still waiting when the inbox closes is refused back to the primary and goes to another worker.
/// </summary>
internal sealed class ConnectionInbox
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly Action<long, bool> _acknowledge;
    private volatile bool _open;

    internal ConnectionInbox(Action<long, bool> acknowledge) => _acknowledge = acknowledge;

    /// <summary>Starts taking connections; before this, the primary's offers are refused.</summary>
    public void Open() => _open = true;

    /// <summary>
    /// The next connection, or null once the inbox is closed. The server acknowledges it (<see cref="Acknowledge"/>) only
    /// once it counts it as open: the primary tells a worker to drain as soon as its hand-offs are acknowledged, and a
    /// drain that saw no open connection would stop the server under a connection it had just taken.
    /// </summary>
    public async ValueTask<HandedConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_queue.Reader.TryRead(out var connection))
            {
                return new HandedConnection(connection.Id, connection.Local ?? AcceptedSocket.Adopt(connection.Fd), connection.Local is not null);
            }
        }

        return null;
    }

    /// <summary>The server has taken the connection: the primary closes its copy (a local one it never had).</summary>
    public void Acknowledge(HandedConnection connection)
    {
        if (!connection.IsLocal)
        {
            _acknowledge(connection.Id, true);
        }
    }

    /// <summary>Stops taking connections and gives back the ones not yet accepted.</summary>
    public void Close()
    {
        _open = false;
        _queue.Writer.TryComplete();
        while (_queue.Reader.TryRead(out var connection))
        {
            if (connection.Local is { } local)
            {
                local.Dispose();
            }
            else
            {
                Refuse(connection.Id, connection.Fd);
            }
        }
    }

    /// <summary>Queues a connection from the primary, or refuses it when the inbox is not open.</summary>
    internal void Offer(long id, int fd)
    {
        if (!_open || !_queue.Writer.TryWrite(new Pending(id, fd, null)))
        {
            Refuse(id, fd);
        }
    }

    /// <summary>
    /// Queues a connection made inside this worker (its warm-up request), served like the primary's but never
    /// acknowledged to it; false when the inbox is not open.
    /// </summary>
    public bool OfferLocal(Socket connection) => _open && _queue.Writer.TryWrite(new Pending(0, -1, connection));

    private readonly record struct Pending(long Id, int Fd, Socket? Local);

    private void Refuse(long id, int fd)
    {
        SocketInterop.Close(fd);
        _acknowledge(id, false);
    }
}

/// <summary>A connection taken from the inbox: the primary's id for it, and whether it was made inside this worker.</summary>
internal sealed record HandedConnection(long Id, Socket Socket, bool IsLocal);
