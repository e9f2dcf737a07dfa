using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The worker's Kestrel transport for the cluster's endpoints. Kestrel asks it first for every address the app binds;
/// it claims those the primary opened (TCP addresses and Unix domain sockets). RoundRobin: a listener fed by the primary's hand-overs. Shared: Kestrel's own
/// socket transport accepting on the listening socket the primary passed (as ListenHandle would).
/// Addresses that are not the cluster's are left to Kestrel's socket transport.
/// </summary>
internal sealed class ClusterTransportFactory(
    ClusterWorker worker,
    WorkerDrain drain,
    IOptions<SocketTransportOptions> socketOptions,
    ILoggerFactory loggerFactory) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly SocketTransportFactory _sockets = new(socketOptions, loggerFactory);

    public bool CanBind(EndPoint endpoint) => worker.Endpoints.CanClaim(endpoint);

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var claimed = worker.Endpoints.Claim(endpoint);
        if (claimed is null)
        {
            throw new AddressInUseException($"{endpoint} is not one of the cluster's endpoints, or is already bound");
        }

        IConnectionListener listener = claimed.Inbox is { } inbox
            ? new HandoffConnectionListener(claimed, inbox, drain, socketOptions.Value, loggerFactory.CreateLogger<HandoffConnectionListener>())
            : new SharedSocketListener(
                await _sockets.BindAsync(new FileHandleEndPoint((ulong)claimed.SharedListenFd!.Value, claimed.Bound is IPEndPoint ? FileHandleType.Tcp : FileHandleType.Auto), cancellationToken).ConfigureAwait(false),
                claimed,
                drain,
                socketOptions.Value,
                loggerFactory.CreateLogger<SharedSocketListener>());
        drain.AddListener(listener);
        return listener;
    }
}
