using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;

namespace ProcessCluster.Distribution;

/// <summary>Opens the primary's listening sockets, one per endpoint, in both scheduling modes.</summary>
internal static class ListenSockets
{
    /// <summary>
    /// Adopts the socket passed for an endpoint (by systemd, or by the previous program; same local address), else binds and listens. An IPv6 address
    /// that cannot be bound because the host has no IPv6 is skipped when it was one half of "localhost", and replaced
    /// by 0.0.0.0 when it stood for every address, as Kestrel does.
    /// </summary>
    public static List<BoundEndpoint> Open(IReadOnlyList<ClusterEndpoint> endpoints, int backlog, bool reusePort, ILogger logger)
    {
        var passed = SocketActivation.Take(logger);
        var bound = new List<BoundEndpoint>();
        try
        {
            foreach (var endpoint in endpoints)
            {
                if (SocketActivation.TryAdopt(passed, endpoint.EndPoint, endpoint.ToUrl(endpoint.EndPoint), backlog, logger) is { } adopted)
                {
                    bound.Add(new BoundEndpoint(bound.Count, endpoint, adopted.Socket, adopted.Origin));
                }
                else if (TryOpen(endpoint, backlog, reusePort, logger) is { } socket)
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

        SocketActivation.WarnUnused(passed, logger);
        if (bound.Count == 0)
        {
            throw new InvalidOperationException("the cluster has no endpoint to listen on");
        }

        return bound;
    }

    private static Socket? TryOpen(ClusterEndpoint endpoint, int backlog, bool reusePort, ILogger logger)
    {
        try
        {
            return Listen(endpoint.EndPoint, backlog, reusePort);
        }
        catch (SocketException error) when (endpoint.EndPoint is IPEndPoint ip
            && (error.SocketErrorCode == SocketError.AddressFamilyNotSupported || error.SocketErrorCode == SocketError.AddressNotAvailable))
        {
            if (ip.Address.Equals(IPAddress.IPv6Any))
            {
                return Listen(new IPEndPoint(IPAddress.Any, ip.Port), backlog, reusePort);
            }

            if (ip.Address.Equals(IPAddress.IPv6Loopback))
            {
                logger.LogInformation("IPv6 loopback is not available; {Scheme}://localhost:{Port} listens on IPv4 only", endpoint.Scheme, ip.Port);
                return null;
            }

            throw;
        }
    }

    /// <summary>
    /// A listening socket as Kestrel's socket transport makes one (an IPv6 "any" address also takes IPv4); with
    /// <paramref name="reusePort"/>, a TCP socket that joins the address's SO_REUSEPORT group (ReusePort scheduling).
    /// </summary>
    public static Socket Listen(EndPoint endPoint, int backlog, bool reusePort = false)
    {
        var socket = Bind(endPoint, reusePort);
        try
        {
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The bound socket <see cref="Listen"/> listens on.</summary>
    public static Socket Bind(EndPoint endPoint, bool reusePort)
    {
        var socket = endPoint is IPEndPoint
            ? new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            if (endPoint is IPEndPoint ip && ip.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (reusePort && endPoint is IPEndPoint)
            {
                SocketInterop.SetReusePort((int)socket.SafeHandle.DangerousGetHandle());
            }

            socket.Bind(endPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
