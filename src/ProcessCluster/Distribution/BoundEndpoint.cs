using System.Net;
using System.Net.Sockets;

namespace ProcessCluster.Distribution;

/// <summary>A listening socket for one configured endpoint: opened by the primary, or adopted from systemd.</summary>
internal sealed class BoundEndpoint(int index, ClusterEndpoint configured, Socket socket, bool adopted = false) : IDisposable
{
    /// <summary>
    /// Passed in by systemd (socket activation), which keeps it open across restarts: the primary never shuts it down
    /// or filters it, so what arrives after this primary stops accepting waits in the kernel for the next one.
    /// </summary>
    public bool Adopted { get; } = adopted;

    public int Index { get; } = index;

    public ClusterEndpoint Configured { get; } = configured;

    public Socket Socket { get; } = socket;

    /// <summary>The address actually bound: port 0 resolved to the real port.</summary>
    public IPEndPoint Bound { get; } = (IPEndPoint)socket.LocalEndPoint!;

    public int Fd => (int)Socket.SafeHandle.DangerousGetHandle();

    public string Url => Configured.ToUrl(Bound);

    public void Dispose() => Socket.Dispose();
}
