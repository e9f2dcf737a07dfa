using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace ProcessCluster.Distribution;

/// <summary>Opens the primary's listening sockets, one per endpoint, in both scheduling modes.</summary>
internal static class ListenSockets
{
    /// <summary>
    /// Adopts the socket systemd passed for an endpoint (same local address), else binds and listens. An IPv6 address
    /// that cannot be bound because the host has no IPv6 is skipped when it was one half of "localhost", and replaced
    /// by 0.0.0.0 when it stood for every address, as Kestrel does.
    /// </summary>
    public static List<BoundEndpoint> Open(IReadOnlyList<ClusterEndpoint> endpoints, int backlog, ILogger logger)
    {
        var passed = SocketActivation.Take(logger);
        var bound = new List<BoundEndpoint>();
        try
        {
            foreach (var endpoint in endpoints)
            {
                if (passed.FindIndex(candidate => SocketActivation.Serves(candidate.Socket.LocalEndPoint, endpoint.EndPoint)) is var found and >= 0)
                {
                    var (socket, name) = passed[found];
                    passed.RemoveAt(found);
                    logger.LogInformation("Adopted the listening socket {Address} ({Name}) passed by systemd for {Url}", socket.LocalEndPoint, name, endpoint.ToUrl(endpoint.EndPoint));
                    bound.Add(new BoundEndpoint(bound.Count, endpoint, socket, adopted: true));
                }
                else if (TryOpen(endpoint, backlog, logger) is { } socket)
                {
                    bound.Add(new BoundEndpoint(bound.Count, endpoint, socket));
                }
            }
        }
        catch
        {
            bound.ForEach(endpoint => endpoint.Dispose());
            throw;
        }

        foreach (var (socket, name) in passed)
        {
            logger.LogWarning("systemd passed a socket ({Name}, {Address}) that no endpoint of the cluster listens on; it is left unused", name, socket.LocalEndPoint);
        }

        if (bound.Count == 0)
        {
            throw new InvalidOperationException("the cluster has no endpoint to listen on");
        }

        return bound;
    }

    private static Socket? TryOpen(ClusterEndpoint endpoint, int backlog, ILogger logger)
    {
        try
        {
            return Listen(endpoint.EndPoint, backlog);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.AddressFamilyNotSupported
            || error.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            if (endpoint.EndPoint.Address.Equals(IPAddress.IPv6Any))
            {
                return Listen(new IPEndPoint(IPAddress.Any, endpoint.EndPoint.Port), backlog);
            }

            if (endpoint.EndPoint.Address.Equals(IPAddress.IPv6Loopback))
            {
                logger.LogInformation("IPv6 loopback is not available; {Scheme}://localhost:{Port} listens on IPv4 only", endpoint.Scheme, endpoint.EndPoint.Port);
                return null;
            }

            throw;
        }
    }

    private static Socket Listen(IPEndPoint endPoint, int backlog)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(endPoint);
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
