using System.Net;
using Microsoft.AspNetCore.Connections;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Kestrel's socket listener on the listening descriptor the primary shared (Shared mode), which it closes when Kestrel
/// stops listening. Kestrel does not own a handle it is given, and a draining worker that kept it open would keep the
/// socket listening: new connections would queue where nobody accepts them and be reset when the worker exits.
/// </summary>
internal sealed class SharedSocketListener(IConnectionListener inner, WorkerEndpoint endpoint, WorkerDrain drain) : IConnectionListener
{
    public EndPoint EndPoint => inner.EndPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default) =>
        drain.Track(await inner.AcceptAsync(cancellationToken).ConfigureAwait(false));

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        await inner.UnbindAsync(cancellationToken).ConfigureAwait(false);
        endpoint.CloseSharedListenSocket();
    }

    public async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        endpoint.CloseSharedListenSocket();
    }
}
