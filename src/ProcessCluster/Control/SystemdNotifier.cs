using System.Net.Sockets;
using System.Text;

namespace ProcessCluster.Control;

/// <summary>
/// sd_notify for a primary run by systemd with Type=notify: a datagram to $NOTIFY_SOCKET (a path, or an abstract name
/// written with a leading '@'). Without that variable every call does nothing.
/// </summary>
internal sealed class SystemdNotifier
{
    public const string SocketVariable = "NOTIFY_SOCKET";

    private readonly UnixDomainSocketEndPoint? _endpoint;

    public SystemdNotifier(string? socket)
    {
        if (!string.IsNullOrEmpty(socket))
        {
            _endpoint = new UnixDomainSocketEndPoint(socket[0] == '@' ? "\0" + socket[1..] : socket);
        }
    }

    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable(SocketVariable));

    /// <summary>Sends "KEY=value" lines; a lost notification must not disturb the cluster, so failures are swallowed.</summary>
    public void Notify(params string[] assignments)
    {
        if (_endpoint is null)
        {
            return;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(string.Join('\n', assignments)), _endpoint);
        }
        catch (SocketException)
        {
        }
    }
}
