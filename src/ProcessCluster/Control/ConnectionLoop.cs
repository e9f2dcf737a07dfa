using System.Net.Sockets;

namespace ProcessCluster.Control;

/// <summary>What the control socket and the HAProxy agent share: accepting connections, and closing one without losing a reply.</summary>
internal static class ConnectionLoop
{
    /// <summary>Accepts until <paramref name="stopping"/> or the listener closes; each connection is served without waiting for it.</summary>
    public static async Task AcceptAsync(Socket listener, Func<Socket, Task> serve, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception error) when (error is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            _ = serve(connection);
        }
    }

    /// <summary>
    /// Closing a socket with unread input resets it, and the client would lose the reply it has not read yet
    /// (a refusal, an error about an overlong line): end our side, then read what is left, briefly and boundedly.
    /// </summary>
    public static async Task DiscardUnreadAsync(Socket connection, NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var scratch = new byte[16 * 1024];
        try
        {
            connection.Shutdown(SocketShutdown.Send);
            for (var total = 0; total < 1024 * 1024;)
            {
                var read = await stream.ReadAsync(scratch, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                total += read;
            }
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
