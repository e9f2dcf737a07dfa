using System.Net;
using System.Net.Sockets;

namespace ProcessCluster.Distribution;

/// <summary>A listening socket the primary opened for one configured endpoint.</summary>
internal sealed class BoundEndpoint(int index, ClusterEndpoint configured, Socket socket) : IDisposable
{
    public int Index { get; } = index;

    public ClusterEndpoint Configured { get; } = configured;

    public Socket Socket { get; } = socket;

    /// <summary>The address actually bound: port 0 resolved to the real port.</summary>
    public IPEndPoint Bound { get; } = (IPEndPoint)socket.LocalEndPoint!;

    public int Fd => (int)Socket.SafeHandle.DangerousGetHandle();

    public string Url => Configured.ToUrl(Bound);

    public void Dispose() => Socket.Dispose();
}
