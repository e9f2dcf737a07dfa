using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>A Kestrel listener whose connections are the ones the primary hands to this worker.</summary>
internal sealed class HandoffConnectionListener : IConnectionListener
{
    private readonly ConnectionInbox _inbox;
    private readonly WorkerDrain _drain;
    private readonly SocketConnectionContextFactory _contexts;

    public HandoffConnectionListener(WorkerEndpoint endpoint, ConnectionInbox inbox, WorkerDrain drain, SocketTransportOptions options, ILogger logger)
    {
        EndPoint = endpoint.Bound;
        _inbox = inbox;
        _drain = drain;
        _contexts = SocketContexts.Create(options, logger);
        _inbox.Open();
    }

    /// <summary>The address the primary listens on, so Kestrel logs and reports the real port.</summary>
    public EndPoint EndPoint { get; }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (await _inbox.AcceptAsync(cancellationToken).ConfigureAwait(false) is not { } handed)
        {
            return null;
        }

        // Counted as open before the primary hears it was taken (see ConnectionInbox.AcceptAsync).
        var connection = _drain.Track(_contexts.Create(handed.Socket));
        _inbox.Acknowledge(handed);
        return connection;
    }

    /// <summary>Kestrel stops listening (graceful shutdown): connections not yet accepted go back to the primary.</summary>
    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _inbox.Close();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _inbox.Close();
        _contexts.Dispose();
        return ValueTask.CompletedTask;
    }
}
