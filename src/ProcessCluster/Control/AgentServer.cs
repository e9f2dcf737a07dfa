using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ProcessCluster.Control;

/// <summary>
/// The HAProxy agent (Cluster:AgentUrl): HAProxy's agent-check connects, and each connection gets one line
/// (<see cref="Policies.AgentPolicy"/>, "ready 75%", "drain", "maint") and is closed. The line is computed from the
/// snapshot the supervisor loop last published, so an agent check never waits for the loop, nor the loop for it.
/// </summary>
internal sealed class AgentServer : IAsyncDisposable
{
    private readonly List<Socket> _sockets = [];
    private readonly Func<string> _answer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _acceptLoops = [];

    /// <param name="url">tcp://host:port, as <see cref="ClusterOptions.Validate()"/> accepts it (port 0 picks one).</param>
    /// <param name="answer">The line to send now, without its newline.</param>
    public AgentServer(string url, Func<string> answer)
    {
        _answer = answer;
        try
        {
            foreach (var endpoint in ClusterEndpoint.Parse(url).Select(endpoint => (IPEndPoint)endpoint.EndPoint))
            {
                var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _sockets.Add(socket);
                if (endpoint.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }

                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(endpoint);
                socket.Listen(64);
            }
        }
        catch
        {
            _sockets.ForEach(socket => socket.Dispose());
            throw;
        }

        _acceptLoops.AddRange(_sockets.Select(socket => ConnectionLoop.AcceptAsync(socket, AnswerAsync, _stopping.Token)));
    }

    /// <summary>The addresses bound, as tcp:// URLs (the real port when 0 was asked for).</summary>
    public IReadOnlyList<string> Urls => _sockets.Select(socket => new ClusterEndpoint("tcp", socket.LocalEndPoint!).ToUrl(socket.LocalEndPoint!)).ToList();

    private async Task AnswerAsync(Socket connection)
    {
        using var _ = connection;
        await using var stream = new NetworkStream(connection, ownsSocket: false);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await stream.WriteAsync(Encoding.ASCII.GetBytes(_answer() + "\n"), timeout.Token).ConfigureAwait(false);
            // HAProxy may send an agent-send string first; unread input would reset the connection and lose the line.
            await ConnectionLoop.DiscardUnreadAsync(connection, stream).ConfigureAwait(false);
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The checker left early; the next check asks again.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _sockets.ForEach(socket => socket.Dispose());
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
