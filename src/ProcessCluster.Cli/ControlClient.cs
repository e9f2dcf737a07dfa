using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using ProcessCluster.Control;
using ProcessCluster.Interop;

namespace ProcessCluster.Cli;

/// <summary>One command over the control socket: check who serves it, send a line, read reply lines until the final one.</summary>
internal static class ControlClient
{
    public static async IAsyncEnumerable<ControlReply> SendAsync(string socketPath, ControlRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);

        // Whoever could write to the socket's directory could serve it: talk only to a primary of our own uid (for
        // root too, as its command is as sensitive as anyone's and a primary of another uid refuses it anyway).
        var (pid, uid) = SocketInterop.GetPeerCredentials((int)socket.Handle);
        if (uid != Libc.geteuid())
        {
            throw new IOException($"the socket is served by process {pid} of uid {uid}, not uid {Libc.geteuid()}: refusing to send it a command");
        }

        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToLine() + "\n"), cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            var reply = ControlReply.Parse(line);
            yield return reply;
            if (reply.IsFinal)
            {
                yield break;
            }
        }

        throw new IOException("the primary closed the connection without an answer");
    }
}
