using System.Net;
using System.Net.Sockets;
using ProcessCluster.Distribution;

namespace ProcessCluster.Tests;

/// <summary>The watcher that, while no worker serves, says a connection waits in a listening socket's queue (real sockets).</summary>
public sealed class IdleQueueWatcherTests : IDisposable
{
    private readonly List<Socket> _sockets = [];

    public void Dispose() => _sockets.ForEach(socket => socket.Dispose());

    [Fact]
    public async Task A_connection_queued_on_a_socket_added_to_the_watched_set_is_told_once_no_worker_serves()
    {
        var first = Listen();
        var added = Listen();
        using var watcher = new IdleQueueWatcher([Fd(first)]);
        var waiting = 0;
        watcher.Waiting += () => Interlocked.Increment(ref waiting);
        watcher.Serving(1, true);
        watcher.Start();

        // Queued on a socket the watcher did not watch when its poll set was built: it must watch the new set.
        Connect(added);
        watcher.Watch([Fd(first), Fd(added)]);
        Assert.Equal(0, Volatile.Read(ref waiting));

        watcher.Serving(1, false);
        await Eventually.UntilAsync(() => Volatile.Read(ref waiting) > 0, "Waiting for the connection queued on the added socket");
    }

    private static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    private Socket Listen()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(socket);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(8);
        return socket;
    }

    private void Connect(Socket listener)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(client);
        client.Connect(listener.LocalEndPoint!);
    }
}
