using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ProcessCluster.Distribution;

namespace ProcessCluster.Tests;

/// <summary>The primary's peek at new connections, over real TCP connections on 127.0.0.1.</summary>
public sealed class RequestPeekerTests : IDisposable
{
    /// <summary>Long enough that a loaded machine still routes a request line well before a silent connection's deadline.</summary>
    private static readonly TimeSpan PeekDeadline = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _sockets = [];
    private readonly ConcurrentDictionary<int, (int? WorkerId, TimeSpan At)> _routed = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly RequestPeeker _peeker;

    public RequestPeekerTests()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _peeker = new RequestPeeker(PeekDeadline, (fd, endpoint, workerId) => _routed[endpoint] = (workerId, _clock.Elapsed));
    }

    public void Dispose()
    {
        _peeker.Dispose();
        _sockets.ForEach(socket => socket.Dispose());
        _listener.Dispose();
    }

    [Fact]
    public async Task A_silent_connection_holds_up_no_other_and_the_worker_still_reads_every_byte()
    {
        var (_, _) = Connect(endpoint: 0);
        var (client, server) = Connect(endpoint: 1);
        var request = "GET /hub?id=w7.tok HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray();
        client.Send(request);

        await Eventually.UntilAsync(() => _routed.ContainsKey(1), "the connection that sent its request line routed", Deadline);
        Assert.Equal(7, _routed[1].WorkerId);

        // The silent one goes on, unrouted, at its deadline, after the other: the times the peeker handed them on say
        // so, not when this thread happens to look (a loaded machine may run it past the deadline meanwhile).
        await Eventually.UntilAsync(() => _routed.ContainsKey(0), "the silent connection routed at its deadline", Deadline);
        Assert.Null(_routed[0].WorkerId);
        Assert.True(_routed[0].At >= PeekDeadline, $"the silent connection was routed at {_routed[0].At}, before the deadline");
        Assert.True(_routed[1].At < _routed[0].At, $"routed at {_routed[1].At}, held up by the silent connection (routed at {_routed[0].At})");

        var received = new byte[request.Length];
        server.ReceiveTimeout = 5000;
        Assert.Equal(request.Length, server.Receive(received, SocketFlags.None));
        Assert.Equal(request, received);
    }

    [Fact]
    public async Task A_request_line_sent_in_pieces_is_routed_once_it_ends_and_a_stop_hands_on_what_waits()
    {
        var (client, _) = Connect(endpoint: 0);
        client.Send("GET /hub?id=w"u8);
        await Task.Delay(50);
        Assert.False(_routed.ContainsKey(0));
        client.Send("2.tok HTTP/1.1\r\n"u8);
        await Eventually.UntilAsync(() => _routed.ContainsKey(0), "the connection routed once its line ended", Deadline);
        Assert.Equal(2, _routed[0].WorkerId);

        Connect(endpoint: 1);
        await Eventually.UntilAsync(() => _peeker.Count == 1, "the silent connection waiting", Deadline);
        _peeker.Flush();
        Assert.Equal(0, _peeker.Count);
        Assert.Null(_routed[1].WorkerId);
        Assert.True(_routed[1].At < _routed[0].At + PeekDeadline, "a stop waited for the deadline");
    }

    private (Socket Client, Socket Server) Connect(int endpoint)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(_listener.LocalEndPoint!);
        var server = _listener.Accept();
        _sockets.Add(client);
        _sockets.Add(server);
        _peeker.Add((int)server.SafeHandle.DangerousGetHandle(), endpoint);
        return (client, server);
    }
}
