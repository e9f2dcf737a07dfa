using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests.NodeParity;

/// <summary>
/// One client connection held open after one answered request, as Node's tests hold a net.Socket: a raw socket, so
/// nothing reconnects or closes behind the test's back.
/// </summary>
public sealed partial class KeepAliveConnection : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    private KeepAliveConnection()
    {
    }

    /// <summary>The pid of the worker that answered: the one that holds this connection.</summary>
    public int WorkerPid { get; private set; }

    /// <summary>When the client closed it (a <see cref="Stopwatch"/> timestamp), or 0 while it is open.</summary>
    public long ClosedAt { get; private set; }

    /// <summary>Connects, asks for /hello with keep-alive and reads the whole answer; the connection stays open.</summary>
    public static async Task<KeepAliveConnection> OpenAsync(Uri address)
    {
        var connection = new KeepAliveConnection();
        try
        {
            await connection._socket.ConnectAsync(address.Host, address.Port);
            await connection._socket.SendAsync(Encoding.ASCII.GetBytes("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
            var answer = new StringBuilder();
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(ParityCluster.Deadline);
            // Kestrel sends the answer chunked: it is whole at the last (empty) chunk.
            while (!answer.ToString().EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await connection._socket.ReceiveAsync(buffer, timeout.Token);
                answer.Append(read == 0 ? throw new IOException($"closed after {answer}") : Encoding.ASCII.GetString(buffer, 0, read));
            }

            connection.WorkerPid = int.Parse(HelloBody().Match(answer.ToString()).Groups[1].Value);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Closes the connection (FIN), and notes when.</summary>
    public void Close()
    {
        ClosedAt = Stopwatch.GetTimestamp();
        _socket.Close();
    }

    public void Dispose() => _socket.Dispose();

    [GeneratedRegex(@"hello from (\d+)")]
    private static partial Regex HelloBody();
}
