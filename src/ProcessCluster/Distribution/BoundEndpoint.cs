using System.Net;
using System.Net.Sockets;

namespace ProcessCluster.Distribution;

/// <summary>
/// A listening socket for one configured endpoint: opened by the primary, or adopted from systemd. The primary owns
/// what it opened, and for a Unix domain socket also the file: it is removed when the socket closes, so that the next
/// start can bind the path again.
/// </summary>
internal sealed class BoundEndpoint(int index, ClusterEndpoint configured, Socket socket, bool adopted = false) : IDisposable
{
    /// <summary>
    /// Passed in by systemd (socket activation), which keeps it open across restarts: the primary never shuts it down
    /// or filters it, so what arrives after this primary stops accepting waits in the kernel for the next one.
    /// </summary>
    public bool Adopted { get; } = adopted;

    public int Index { get; } = index;

    /// <summary>The endpoint as the app configured it (port 0 stays 0).</summary>
    public ClusterEndpoint Configured { get; } = configured;

    public Socket Socket { get; } = socket;

    /// <summary>The address actually bound: port 0 resolved to the real port.</summary>
    public EndPoint Bound { get; } = socket.LocalEndPoint!;

    public int Fd => (int)Socket.SafeHandle.DangerousGetHandle();

    public string Url => Configured.ToUrl(Bound);

    /// <summary>A name for threads and log lines: the port, or the socket file.</summary>
    public string Name => Bound is IPEndPoint ip ? ip.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : Bound.ToString()!;

    public void Dispose()
    {
        Socket.Dispose();
        // An adopted socket file is systemd's, kept for the next start.
        if (!Adopted && Bound is UnixDomainSocketEndPoint unix)
        {
            File.Delete(unix.ToString()!);
        }
    }
}
