using System.Net;
using System.Text;
using ProcessCluster.Ipc;

namespace ProcessCluster.Tests;

public class FrameDecoderTests
{
    private static byte[] Encode(FrameType type, byte[] payload, int fdCount = 0)
    {
        var bytes = new byte[FrameFormat.HeaderSize + payload.Length];
        FrameFormat.WriteHeader(bytes, type, payload.Length, fdCount);
        payload.CopyTo(bytes, FrameFormat.HeaderSize);
        return bytes;
    }

    private static void Feed(FrameDecoder decoder, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var space = decoder.GetReceiveSpace();
            var count = Math.Min(space.Length, bytes.Length);
            bytes[..count].CopyTo(space);
            decoder.Advance(count);
            bytes = bytes[count..];
        }
    }

    [Fact]
    public void Reads_a_frame_delivered_one_byte_at_a_time()
    {
        using var decoder = new FrameDecoder(maxPayload: 1024);
        var payload = Encoding.UTF8.GetBytes("{\"hello\":1}");
        var bytes = Encode(FrameType.Message, payload);
        for (var i = 0; i < bytes.Length - 1; i++)
        {
            Feed(decoder, bytes.AsSpan(i, 1));
            Assert.False(decoder.TryRead(out _));
        }

        Feed(decoder, bytes.AsSpan(bytes.Length - 1));
        Assert.True(decoder.TryRead(out var frame));
        Assert.Equal(FrameType.Message, frame.Type);
        Assert.Equal(payload, frame.Payload);
        Assert.False(decoder.TryRead(out _));
    }

    [Fact]
    public void Reads_several_frames_from_one_read_in_order()
    {
        using var decoder = new FrameDecoder(maxPayload: 1024);
        Feed(decoder, [.. Encode(FrameType.Message, [1]), .. Encode(FrameType.Disconnect, []), .. Encode(FrameType.Message, [2, 3])]);
        Assert.True(decoder.TryRead(out var first));
        Assert.True(decoder.TryRead(out var second));
        Assert.True(decoder.TryRead(out var third));
        Assert.Equal([1], first.Payload);
        Assert.Equal(FrameType.Disconnect, second.Type);
        Assert.Equal([2, 3], third.Payload);
        Assert.False(decoder.TryRead(out _));
    }

    [Fact]
    public void Grows_for_a_frame_larger_than_its_first_buffer()
    {
        using var decoder = new FrameDecoder(maxPayload: 100_000, initialCapacity: 64);
        var payload = Enumerable.Range(0, 50_000).Select(i => (byte)i).ToArray();
        Feed(decoder, [.. Encode(FrameType.Message, [7]), .. Encode(FrameType.Message, payload)]);
        Assert.True(decoder.TryRead(out var small));
        Assert.True(decoder.TryRead(out var large));
        Assert.Equal([7], small.Payload);
        Assert.Equal(payload, large.Payload);
    }

    [Fact]
    public void Rejects_a_frame_over_the_limit_from_its_header_alone()
    {
        using var decoder = new FrameDecoder(maxPayload: 1024);
        var header = new byte[FrameFormat.HeaderSize];
        FrameFormat.WriteHeader(header, FrameType.Message, int.MaxValue, 0);
        Feed(decoder, header);
        var error = Assert.Throws<ProtocolViolationException>(() => decoder.TryRead(out _));
        Assert.Contains("exceeds the limit of 1024", error.Message);
    }

    [Fact]
    public void Rejects_an_unknown_frame_type()
    {
        using var decoder = new FrameDecoder(maxPayload: 1024);
        Feed(decoder, Encode((FrameType)200, [1, 2]));
        Assert.Throws<ProtocolViolationException>(() => decoder.TryRead(out _));
    }

    [Fact]
    public void Rejects_a_frame_whose_descriptors_did_not_arrive()
    {
        using var decoder = new FrameDecoder(maxPayload: 1024);
        Feed(decoder, Encode(FrameType.NewConnection, new byte[FrameFormat.NewConnectionEntrySize], fdCount: 1));
        Assert.Throws<ProtocolViolationException>(() => decoder.TryRead(out _));
    }

    [Fact]
    public void Hands_each_frame_the_descriptors_that_came_with_it()
    {
        using var decoder = new FrameDecoder(maxPayload: 1024);
        decoder.Fds.Enqueue(-5);
        decoder.Fds.Enqueue(-6);
        Feed(decoder, [.. Encode(FrameType.NewConnection, new byte[10], 1), .. Encode(FrameType.NewConnection, new byte[10], 1)]);
        Assert.True(decoder.TryRead(out var first));
        Assert.True(decoder.TryRead(out var second));
        Assert.Equal([-5], first.Fds);
        Assert.Equal([-6], second.Fds);
    }

    [Fact]
    public void Rejects_descriptors_no_frame_declared_and_keeps_none()
    {
        using var decoder = new FrameDecoder(maxPayload: 1024);
        decoder.Fds.Enqueue(-5);
        Feed(decoder, Encode(FrameType.Disconnect, []));
        Assert.Throws<ProtocolViolationException>(() => decoder.TryRead(out _));
        Assert.Empty(decoder.Fds);
    }

    [Fact]
    public void A_descriptor_read_with_the_next_frames_first_bytes_waits_for_that_frame()
    {
        // The kernel ends a read after the segment carrying descriptors, which may follow whole frames without any.
        using var decoder = new FrameDecoder(maxPayload: 1024);
        var next = Encode(FrameType.NewConnection, new byte[FrameFormat.NewConnectionEntrySize], fdCount: 1);
        decoder.Fds.Enqueue(-5);
        Feed(decoder, [.. Encode(FrameType.Disconnect, []), .. next[..3]]);
        Assert.True(decoder.TryRead(out var first));
        Assert.Empty(first.Fds);
        Assert.False(decoder.TryRead(out _));
        Feed(decoder, next.AsSpan(3));
        Assert.True(decoder.TryRead(out var second));
        Assert.Equal([-5], second.Fds);
    }

    [Fact]
    public void Checks_the_size_of_fixed_payloads()
    {
        Assert.Throws<ProtocolViolationException>(() => FrameFormat.ReadAcks(new Frame(FrameType.Ack, new byte[10], [])));
        Assert.Throws<ProtocolViolationException>(() => FrameFormat.ReadAcks(new Frame(FrameType.Ack, [], [])));
        var payload = FrameFormat.WriteAcks([(1234567890123, true), (7, false)]);
        Assert.Equal([(1234567890123L, true), (7L, false)], FrameFormat.ReadAcks(new Frame(FrameType.Ack, payload, [])));
        Assert.Throws<ProtocolViolationException>(() => FrameFormat.ReadNewConnections(new Frame(FrameType.NewConnection, new byte[10], [])));
        Assert.Throws<ProtocolViolationException>(() => FrameFormat.ReadNewConnections(new Frame(FrameType.NewConnection, new byte[20], [-5])));
        Assert.Throws<ProtocolViolationException>(() => FrameFormat.ReadNewConnections(new Frame(FrameType.NewConnection, new byte[10], [-5, -6])));
        Assert.Equal(2, FrameFormat.ReadNewConnections(new Frame(FrameType.NewConnection, new byte[20], [-5, -6])).Length);
    }
}
