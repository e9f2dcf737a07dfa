using System.Net;
using System.Net.Sockets;
using ProcessCluster.Interop;

namespace ProcessCluster.Distribution;

/// <summary>
/// A listening socket for one configured endpoint: opened by the primary, inherited from its previous program (an
/// in-place upgrade), or passed by systemd. What the primary may do with it follows from where it came from
/// (<see cref="Origin"/>): it owns all but systemd's, and for a Unix domain socket also the file.
/// </summary>
internal sealed class BoundEndpoint(int index, ClusterEndpoint configured, Socket socket, SocketOrigin origin = SocketOrigin.Opened) : IDisposable
{
    public SocketOrigin Origin { get; } = origin;

    /// <summary>
    /// Shut down (and, in Shared mode, filtered) when the primary stops, so clients are refused rather than left in a
    /// queue nobody serves; never systemd's, whose queue keeps what arrives for the next primary.
    /// </summary>
    public bool ShutDownOnStop => Origin != SocketOrigin.Systemd;

    /// <summary>
    /// Accepted with a blocking accept and its wake-up timeout, one connection at a time: the blocking mode belongs to
    /// the socket, and systemd's outlives this primary, so it is left as the next one expects it.
    /// </summary>
    public bool AcceptsBlocking => Origin == SocketOrigin.Systemd;

    /// <summary>The file of a Unix socket is removed when the socket closes, so that the next start can bind the path again; systemd's stays for its next start.</summary>
    public bool OwnsSocketFile => Origin != SocketOrigin.Systemd;

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

    /// <summary>Closes the primary's copy at the stop, new handshakes dropped first unless it is systemd's (the filter would stay on its socket and drop the next primary's connections).</summary>
    public void CloseOnStop()
    {
        if (ShutDownOnStop)
        {
            SocketInterop.DropIncoming(Fd);
        }

        Dispose();
    }

    public void Dispose()
    {
        Socket.Dispose();
        if (OwnsSocketFile && Bound is UnixDomainSocketEndPoint unix)
        {
            File.Delete(unix.ToString()!);
        }
    }
}
