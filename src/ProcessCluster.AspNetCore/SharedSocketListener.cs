using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Kestrel's socket listener on the listening descriptor the primary shared (Shared mode), with a clean ending. Kestrel
/// neither owns a handle it is given nor looks at what is still queued when it stops: a draining worker would keep
/// the socket listening, and the last one to close it would reset the connections queued on it. So once Kestrel stops
/// accepting, this listener hands it what the kernel still queues, then closes the descriptor.
/// </summary>
internal sealed class SharedSocketListener(
    IConnectionListener inner,
    WorkerEndpoint endpoint,
    WorkerDrain drain,
    SocketTransportOptions options,
    ILogger logger) : IConnectionListener
{
    private readonly SocketConnectionContextFactory _contexts = SocketContexts.Create(options, logger);

    public EndPoint EndPoint => inner.EndPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var connection = await inner.AcceptAsync(cancellationToken).ConfigureAwait(false);
        if (connection is null && endpoint.TakeQueuedConnection() is { } queued)
        {
            connection = _contexts.Create(queued);
        }

        return drain.Track(connection);
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => inner.UnbindAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        endpoint.CloseSharedListenSocket();
        _contexts.Dispose();
    }
}
