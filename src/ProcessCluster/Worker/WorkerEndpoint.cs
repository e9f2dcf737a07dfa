using System.Net;
using System.Net.Sockets;
using ProcessCluster.Interop;

namespace ProcessCluster.Worker;

/// <summary>One of the cluster's endpoints as a worker serves it.</summary>
internal sealed class WorkerEndpoint
{
    internal WorkerEndpoint(int index, EndPoint configured, EndPoint bound, ConnectionInbox? inbox, int? sharedListenFd)
    {
        Index = index;
        Configured = configured;
        Bound = bound;
        Inbox = inbox;
        SharedListenFd = sharedListenFd;
    }

    public int Index { get; }

    /// <summary>The address as the app configured it (port 0 stays 0).</summary>
    public EndPoint Configured { get; }

    /// <summary>The address the primary bound: the real port.</summary>
    public EndPoint Bound { get; }

    /// <summary>RoundRobin: connections the primary hands over.</summary>
    public ConnectionInbox? Inbox { get; }

    /// <summary>Shared and ReusePort: the listening socket to accept on (this process owns the descriptor).</summary>
    public int? SharedListenFd { get; }

    private int _sharedListenFdClosed;

    /// <summary>
    /// Shared: closes this worker's descriptor of the listening socket, once, when its server stops listening. The
    /// socket stops listening when the last process holding it lets go; a draining worker must not be that process.
    /// </summary>
    public void CloseSharedListenSocket()
    {
        if (SharedListenFd is { } fd && Interlocked.Exchange(ref _sharedListenFdClosed, 1) == 0)
        {
            SocketInterop.Close(fd);
        }
    }

    /// <summary>
    /// Shared, once the server has stopped accepting: takes, without waiting, a connection the kernel still queues on
    /// the listening socket, so that it is served rather than reset when the socket closes. When none is left, closes
    /// this worker's descriptor and returns null.
    /// </summary>
    public Socket? TakeQueuedConnection()
    {
        if (SharedListenFd is not { } fd || Volatile.Read(ref _sharedListenFdClosed) != 0)
        {
            return null;
        }

        SocketInterop.SetNonBlocking(fd);
        var connection = SocketInterop.Accept(fd, out _);
        if (connection < 0)
        {
            CloseSharedListenSocket();
            return null;
        }

        return AcceptedSocket.Adopt(connection);
    }

    /// <summary>
    /// Picks the endpoint a server's bind request stands for: the same socket file, or the same address and port,
    /// else for an any-address request the any-address endpoint on that port (see <see cref="EndpointMatch"/>); a
    /// port-0 request takes the next unclaimed port-0 endpoint in order, so every worker's Nth listen(0) lands on the
    /// same real port, as in Node.
    /// </summary>
    public static WorkerEndpoint? Match(IReadOnlyList<WorkerEndpoint> endpoints, IReadOnlySet<int> claimed, EndPoint requested)
    {
        var candidates = endpoints.Where(endpoint => !claimed.Contains(endpoint.Index) && EndpointMatch.SameEndpoint(endpoint.Configured, requested)).ToList();
        return candidates.FirstOrDefault(endpoint => endpoint.Configured.Equals(requested)) ?? candidates.FirstOrDefault();
    }
}
