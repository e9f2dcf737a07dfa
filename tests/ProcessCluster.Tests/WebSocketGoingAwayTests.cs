using System.Net.WebSockets;
using ProcessCluster.AspNetCore.WebSockets;

namespace ProcessCluster.Tests;

/// <summary>The drain's close frame for WebSockets: found between messages, whatever the writes' sizes, and never inside one.</summary>
public class WebSocketGoingAwayTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_tracker_finds_message_boundaries_in_a_real_websockets_frames_fed_in_any_pieces()
    {
        using var written = new MemoryStream();
        using var server = WebSocket.CreateFromStream(written, isServer: true, subProtocol: null, keepAliveInterval: Timeout.InfiniteTimeSpan);
        var boundaries = new Dictionary<long, bool> { [0] = true };
        async Task SendAsync(int length, WebSocketMessageType type, bool endOfMessage)
        {
            await server.SendAsync(new byte[length], type, endOfMessage, CancellationToken.None);
            boundaries[written.Length] = endOfMessage;
        }

        // A 7-bit, a 16-bit and a 64-bit length; a message in three fragments.
        await SendAsync(5, WebSocketMessageType.Text, endOfMessage: true);
        await SendAsync(300, WebSocketMessageType.Binary, endOfMessage: false);
        await SendAsync(70_000, WebSocketMessageType.Binary, endOfMessage: false);
        await SendAsync(1, WebSocketMessageType.Binary, endOfMessage: true);
        await SendAsync(0, WebSocketMessageType.Text, endOfMessage: true);
        var bytes = written.ToArray();

        foreach (var seed in Enumerable.Range(0, 20))
        {
            var random = new Random(seed);
            var tracker = new WebSocketFrameTracker();
            var offset = 0;
            while (offset < bytes.Length)
            {
                var piece = Math.Min(bytes.Length - offset, random.Next(1, seed % 2 == 0 ? 4 : 20_000));
                tracker.Observe(bytes.AsSpan(offset, piece));
                offset += piece;
                // Inside a frame it is never a boundary; between frames it is one unless a message is open.
                Assert.True(boundaries.GetValueOrDefault(offset) == tracker.AtMessageBoundary, $"seed {seed}, byte {offset}");
            }
        }
    }

    [Fact]
    public void A_control_frame_between_fragments_leaves_the_message_open_and_a_masked_header_is_read_whole()
    {
        var tracker = new WebSocketFrameTracker();
        tracker.Observe([0x02, 0x01, 0xAA]); // binary, not final, 1 byte
        Assert.False(tracker.AtMessageBoundary);
        tracker.Observe([0x89, 0x00]); // ping between fragments
        Assert.False(tracker.AtMessageBoundary);
        tracker.Observe([0x80, 0x82, 1, 2, 3, 4]); // final continuation, masked, 2 bytes still to come
        Assert.False(tracker.AtMessageBoundary);
        tracker.Observe([0xBB, 0xCC]);
        Assert.True(tracker.AtMessageBoundary);
        tracker.Observe([0x8A, 0x00]); // a pong on its own
        Assert.True(tracker.AtMessageBoundary);
    }

    [Fact]
    public async Task A_close_asked_for_mid_message_goes_after_its_last_fragment_and_what_the_app_writes_later_goes_nowhere()
    {
        using var wire = new MemoryStream();
        using var stream = new GoingAwayStream(wire);
        using var server = WebSocket.CreateFromStream(stream, isServer: true, subProtocol: null, keepAliveInterval: Timeout.InfiniteTimeSpan);
        await server.SendAsync(new byte[1000], WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);

        var goingAway = stream.GoAwayAsync();
        Assert.False(goingAway.IsCompleted);
        await server.SendAsync(new byte[24], WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        await goingAway.WaitAsync(Deadline);
        await server.SendAsync(new byte[7], WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        await server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "app's own", CancellationToken.None);

        // What the client reads: the whole message, then 1001 "going away", then nothing.
        using var client = WebSocket.CreateFromStream(new MemoryStream(wire.ToArray()), isServer: false, subProtocol: null, keepAliveInterval: Timeout.InfiniteTimeSpan);
        var buffer = new byte[2048];
        var received = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await client.ReceiveAsync(buffer.AsMemory(received), CancellationToken.None);
            received += result.Count;
        }
        while (!result.EndOfMessage);

        Assert.Equal(1024, received);
        Assert.Equal(WebSocketMessageType.Close, (await client.ReceiveAsync(buffer.AsMemory(), CancellationToken.None)).MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
        Assert.Equal("going away", client.CloseStatusDescription);
        Assert.Equal(4 + 1000 + 2 + 24 + 14, wire.Length);
    }

    [Fact]
    public async Task The_drains_close_to_a_connection_already_gone_ends_quietly()
    {
        var closed = new MemoryStream();
        await closed.DisposeAsync();
        using var plain = new GoingAwayStream(closed);
        await Assert.ThrowsAsync<ObjectDisposedException>(plain.GoAwayAsync);

        using var quiet = new GoingAwayStream(closed);
        await quiet.TryGoAwayAsync().WaitAsync(Deadline);
    }
}
