using System.Net;
using System.Net.Sockets;
using System.Text;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Tests;

/// <summary>The channel over real Unix sockets: frames, descriptor passing (SCM_RIGHTS), peer credentials, bad input.</summary>
public sealed class ChannelInteropTests : IDisposable
{
    private readonly Socket _left;
    private readonly Socket _right;

    public ChannelInteropTests() => (_left, _right) = UnixSocketPair.Create();

    public void Dispose()
    {
        _left.Dispose();
        _right.Dispose();
    }

    [Fact]
    public void Connections_passed_in_one_frame_are_the_same_connections_on_the_other_side_in_order()
    {
        using var tcpListener = new TcpListener(IPAddress.Loopback, 0);
        tcpListener.Start();
        using var firstClient = new TcpClient();
        firstClient.Connect((IPEndPoint)tcpListener.LocalEndpoint);
        using var firstAccepted = tcpListener.AcceptSocket();
        using var secondClient = new TcpClient();
        secondClient.Connect((IPEndPoint)tcpListener.LocalEndpoint);
        using var secondAccepted = tcpListener.AcceptSocket();

        using var sender = new IpcChannel(_left, 4096);
        using var receiver = new IpcChannel(_right, 4096, receivesDescriptors: true);
        Span<byte> payload = stackalloc byte[2 * FrameFormat.NewConnectionEntrySize];
        FrameFormat.WriteNewConnection(payload, 42, 3);
        FrameFormat.WriteNewConnection(payload[FrameFormat.NewConnectionEntrySize..], 43, 0);
        sender.Send(FrameType.NewConnection, payload, [(int)firstAccepted.Handle, (int)secondAccepted.Handle]);
        firstAccepted.Close();
        secondAccepted.Close();

        var frame = receiver.Receive();
        Assert.NotNull(frame);
        Assert.Equal([(42L, 3), (43L, 0)], FrameFormat.ReadNewConnections(frame));
        foreach (var (fd, client, text) in new[] { (frame.Fds[0], firstClient, "first"), (frame.Fds[1], secondClient, "second") })
        {
            using var handedOver = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
            handedOver.Send(Encoding.UTF8.GetBytes(text));
            var buffer = new byte[64];
            var read = client.GetStream().Read(buffer);
            Assert.Equal(text, Encoding.UTF8.GetString(buffer, 0, read));
        }
    }

    [Fact]
    public void Several_descriptors_arrive_in_order_with_their_frames()
    {
        using var sender = new IpcChannel(_left, 4096);
        using var receiver = new IpcChannel(_right, 4096, receivesDescriptors: true);
        using var first = File.OpenHandle("/proc/self/status");
        using var second = File.OpenHandle("/proc/self/cmdline");
        sender.Send(FrameType.Welcome, "{}"u8, [(int)first.DangerousGetHandle(), (int)second.DangerousGetHandle()]);
        sender.Send(FrameType.Message, "1"u8);

        var welcome = receiver.Receive()!;
        Assert.Equal(2, welcome.Fds.Length);
        Assert.StartsWith("/proc/", File.ResolveLinkTarget($"/proc/self/fd/{welcome.Fds[0]}", false)?.FullName ?? "/proc/");
        Assert.Equal(FrameType.Message, receiver.Receive()!.Type);
        Array.ForEach(welcome.Fds, SocketInterop.Close);
    }

    [Fact]
    public void A_worker_closes_descriptors_a_frame_did_not_declare_and_drops_the_channel()
    {
        // As the primary's end refuses any descriptor, the worker's keeps none a frame did not declare.
        var (passed, kept) = UnixSocketPair.Create();
        using var _ = kept;
        using var receiver = new IpcChannel(_right, 4096, receivesDescriptors: true);
        var frame = new byte[FrameFormat.HeaderSize];
        FrameFormat.WriteHeader(frame, FrameType.Disconnect, 0, fdCount: 0);
        SocketInterop.Send((int)_left.Handle, frame, [(int)passed.Handle]);
        passed.Dispose();

        var violation = Assert.Throws<ProtocolViolationException>(() => receiver.Receive());
        Assert.Contains("did not declare", violation.Message);

        // The worker's copy was the last one open: closed, the other end sees end of stream (not a timeout).
        kept.ReceiveTimeout = 10_000;
        Assert.Equal(0, kept.Receive(new byte[1]));
    }

    [Fact]
    public void Peer_credentials_name_the_connecting_process()
    {
        var (pid, uid) = SocketInterop.GetPeerCredentials((int)_right.Handle);
        Assert.Equal(Environment.ProcessId, pid);
        Assert.Equal(uint.Parse(File.ReadAllLines("/proc/self/status").First(line => line.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]), uid);
    }

    [Fact]
    public void Garbage_on_the_channel_is_a_protocol_violation_not_a_crash()
    {
        using var receiver = new IpcChannel(_right, 4096);
        _left.Send([0xFF, 0xFF, 0xFF, 0x7F, 6, 0, 1, 2, 3]);
        Assert.Throws<ProtocolViolationException>(() => receiver.Receive());
    }

    [Fact]
    public void End_of_stream_reads_as_null()
    {
        using var receiver = new IpcChannel(_right, 4096);
        _left.Shutdown(SocketShutdown.Both);
        Assert.Null(receiver.Receive());
    }

    [Fact]
    public void A_payload_over_the_limit_is_refused_before_it_is_sent()
    {
        using var sender = new IpcChannel(_left, 4096);
        Assert.Throws<ArgumentException>(() => sender.Send(FrameType.Message, new byte[5000]));
    }

    [Fact]
    public async Task A_frame_half_sent_without_waiting_goes_out_whole_before_the_next_frame()
    {
        _left.SendBufferSize = 4096;
        using var sender = new IpcChannel(_left, 1 << 20);
        using var receiver = new IpcChannel(_right, 1 << 20, receivesDescriptors: true);
        var big = Enumerable.Range(0, 256 * 1024).Select(i => (byte)i).ToArray();
        using var passed = File.OpenHandle("/proc/self/status");

        // 256 KiB does not fit the socket: the head goes (with the descriptor), the tail waits for room.
        Assert.True(sender.TrySend(FrameType.Message, big, [(int)passed.DangerousGetHandle()]));
        Assert.True(sender.HasUnsentTail);
        Assert.False(sender.TrySend(FrameType.Message, "1"u8));
        Assert.False(sender.TryFlush());

        var reading = Task.Run(() => (receiver.Receive(), receiver.Receive()));
        sender.Send(FrameType.Message, "2"u8);
        var (first, second) = await reading.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(big, first!.Payload);
        Assert.Single(first.Fds);
        Assert.Equal("2"u8.ToArray(), second!.Payload);
        Assert.False(sender.HasUnsentTail);
        Array.ForEach(first.Fds, SocketInterop.Close);
    }
}
