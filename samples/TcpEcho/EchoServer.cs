using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using ProcessCluster.Worker;

namespace TcpEcho;

/// <summary>
/// The protocol: each line a client sends comes back as "PID: line" (this worker's pid). Once draining, a connection
/// answers the line it is reading, then closes (HTTP's "Connection: close"); an idle one closes at the drain deadline.
/// </summary>
internal sealed class EchoServer
{
    private readonly string _pid = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly CancellationTokenSource _closeIdle = new();
    private volatile bool _draining;

    /// <summary>Serves every connection <paramref name="listener"/> gives, until it gives none.</summary>
    public async Task AcceptAllAsync(ClusterListener listener)
    {
        while (await listener.AcceptAsync() is { } connection)
        {
            var serving = ServeAsync(connection);
            _connections.TryAdd(serving, true);
            _ = serving.ContinueWith(done => _connections.TryRemove(done, out _), TaskScheduler.Default);
        }
    }

    /// <summary>
    /// From now on each connection, including any accepted later, closes after its next answer; idle ones close at
    /// <paramref name="deadline"/>.
    /// </summary>
    public void BeginDrain(TimeSpan deadline)
    {
        _draining = true;
        _closeIdle.CancelAfter(deadline);
    }

    /// <summary>Returns once every connection has closed (call it when no more are accepted).</summary>
    public async Task WhenAllClosedAsync()
    {
        while (!_connections.IsEmpty)
        {
            await Task.WhenAll(_connections.Keys);
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using var socket = connection;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n", AutoFlush = true };
        try
        {
            while (await reader.ReadLineAsync(_closeIdle.Token) is { } line)
            {
                await writer.WriteLineAsync($"{_pid}: {line}".AsMemory(), _closeIdle.Token);
                if (_draining)
                {
                    break;
                }
            }
        }
        catch (Exception error) when (error is IOException or OperationCanceledException)
        {
            // The client went away, or the drain deadline came: the connection closes either way.
        }
    }
}
