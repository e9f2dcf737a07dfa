using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using ProcessCluster.Control;

namespace ProcessCluster.Cli;

/// <summary>One command over the control socket: send a line, read reply lines until the final one.</summary>
internal static class ControlClient
{
    public static async IAsyncEnumerable<ControlReply> SendAsync(string socketPath, ControlRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
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
