using System.Net;
using System.Net.Sockets;

namespace ProcessCluster.Worker;

/// <summary>
/// One of the cluster's endpoints as a socket server in a worker takes its connections (Node's server.listen in a
/// worker), for servers that are not Kestrel: handed over by the primary (RoundRobin), or accepted on the listening
/// socket the primary shares (Shared). Get one from <see cref="ClusterWorker.Listen"/>.
/// </summary>
public sealed class ClusterListener : IDisposable
{
    private readonly WorkerEndpoint _endpoint;
    private readonly Socket? _shared;
    private readonly CancellationTokenSource _stop = new();

    internal ClusterListener(WorkerEndpoint endpoint)
    {
        _endpoint = endpoint;
        if (endpoint.Inbox is { } inbox)
        {
            inbox.Open();
        }
        else
        {
            // The descriptor stays the endpoint's: it closes it once, after taking what the kernel still queues.
            _shared = new Socket(new SafeSocketHandle(endpoint.SharedListenFd!.Value, ownsHandle: false));
        }
    }

    /// <summary>The address the primary listens on, with the real port, or its Unix domain socket.</summary>
    public EndPoint LocalEndPoint => _endpoint.Bound;

    /// <summary>
    /// The next connection, now this process's to serve and close; null once <see cref="Stop"/> was called and no
    /// connection is left for this worker.
    /// </summary>
    public async ValueTask<Socket?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (_endpoint.Inbox is { } inbox)
        {
            if (await inbox.AcceptAsync(cancellationToken).ConfigureAwait(false) is not { } handed)
            {
                return null;
            }

            inbox.Acknowledge(handed);
            return handed.Socket;
        }

        if (!_stop.IsCancellationRequested)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
            try
            {
                var connection = await _shared!.AcceptAsync(linked.Token).ConfigureAwait(false);
                connection.NoDelay = true;
                return connection;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Stopped while waiting: what the kernel queued is still served, below.
            }
        }

        return _endpoint.TakeQueuedConnection();
    }

    /// <summary>
    /// Stops taking connections. RoundRobin: those handed over and not yet accepted go back to the primary, for another
    /// worker. Shared: <see cref="AcceptAsync"/> still returns the ones the kernel queued, then this worker lets go of
    /// the listening socket, so that clients are refused cleanly rather than queued where nobody accepts.
    /// </summary>
    public void Stop()
    {
        _endpoint.Inbox?.Close();
        _stop.Cancel();
    }

    /// <summary>Stops as <see cref="Stop"/> does, then closes the listening socket this worker holds.</summary>
    public void Dispose()
    {
        Stop();
        _shared?.Dispose();
        _endpoint.CloseSharedListenSocket();
        _stop.Dispose();
    }
}
