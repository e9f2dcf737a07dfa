using System.Net.WebSockets;
using System.Text;

namespace ProcessCluster.IntegrationTests;

/// <summary>WebSockets across a rolling reload: closed with 1001 "going away" after the message in flight, then reconnected elsewhere.</summary>
public class WebSocketDrainTests
{
    private const int SIGHUP = 1;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task A_reload_closes_each_websocket_with_1001_after_its_message_in_flight_and_a_reconnect_lands_on_a_live_worker(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 1);
        var oldPid = Assert.Single(await cluster.ReadyPidsAsync());
        using var timeout = new CancellationTokenSource(Deadline);
        var echo = new Uri(cluster.BaseAddress, "/ws/echo?hold=true").ToString().Replace("http://", "ws://", StringComparison.Ordinal);

        // An idle one, and one that receives a 1 MiB echo the worker holds half-sent until it is asked to drain.
        using var idle = await ConnectAsync(echo, oldPid, timeout.Token);
        using var busy = await ConnectAsync(echo, oldPid, timeout.Token);
        var large = new byte[1024 * 1024];
        Random.Shared.NextBytes(large);
        await busy.SendAsync(large, WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        var buffer = new byte[large.Length + 1];
        var first = await busy.ReceiveAsync(buffer, timeout.Token);
        Assert.False(first.EndOfMessage);

        cluster.Signal(SIGHUP);
        var received = first.Count;
        ValueWebSocketReceiveResult rest;
        do
        {
            rest = await busy.ReceiveAsync(buffer.AsMemory(received), timeout.Token);
            received += rest.Count;
        }
        while (!rest.EndOfMessage && rest.MessageType != WebSocketMessageType.Close);

        // Whole: the close came after the message's last fragment, not between two.
        Assert.Equal(WebSocketMessageType.Binary, rest.MessageType);
        Assert.Equal(large, buffer[..received]);
        foreach (var socket in new[] { busy, idle })
        {
            var close = await socket.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(WebSocketMessageType.Close, close.MessageType);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus);
            Assert.Equal("going away", socket.CloseStatusDescription);
            await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "bye", timeout.Token);
        }

        // The client reconnects: to the new worker, which echoes; the old one finished its drain and exited.
        var newPid = Assert.Single(await cluster.WaitForReadyPidsAsync(pids => pids.Count == 1 && pids[0] != oldPid, "the new worker serving", Deadline));
        using var again = await ConnectAsync(echo.Replace("hold=true", "hold=false", StringComparison.Ordinal), newPid, timeout.Token);
        await again.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        var reply = await again.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, reply.Count));
        await Poll.UntilAsync(() => !cluster.ChildPids().Contains(oldPid), Deadline, $"old worker {oldPid} exited");
        Assert.Equal(0, cluster.CountLines("did not finish draining in time"));
    }

    /// <summary>Opens a WebSocket and reads the greeting, which names the serving process.</summary>
    private static async Task<ClientWebSocket> ConnectAsync(string url, int expectedPid, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(url), cancellationToken);
        var buffer = new byte[64];
        var greeting = await socket.ReceiveAsync(buffer, cancellationToken);
        Assert.Equal($"pid {expectedPid}", Encoding.UTF8.GetString(buffer, 0, greeting.Count));
        return socket;
    }
}
