using System.Net;
using System.Net.Sockets;
using CsCheck;
using ProcessCluster.Ipc;
using ProcessCluster.Primary.Channels;

namespace ProcessCluster.Tests;

/// <summary>The primary's relay of SignalR backplane messages, over real worker channels (Unix socket pairs).</summary>
public sealed class BackplaneRelayTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly RecordingLogger _log = new();
    private readonly List<IDisposable> _owned = [];

    public void Dispose() => _owned.ForEach(owned => owned.Dispose());

    [Fact]
    public async Task A_worker_that_does_not_read_loses_messages_counted_and_logged_once_while_the_others_get_every_one_in_order()
    {
        const int Messages = 20_000;
        using var relay = new BackplaneRelay(_log, outboxCapacity: Messages);
        var (senderPrimary, _) = Channel();
        var (readingPrimary, reading) = Channel();
        var (stuckPrimary, _) = Channel();
        relay.Receive(2, readingPrimary, Subscription());
        relay.Receive(3, stuckPrimary, Subscription());

        var received = Task.Run(() => Enumerable.Range(0, Messages).Select(_ => BackplaneMessage.Read(reading.Receive()!.Payload).Targets[0]).ToList());
        for (var i = 0; i < Messages; i++)
        {
            relay.Receive(1, senderPrimary, Frame(new BackplaneMessage(BackplaneKind.Connections, "Hub", [i.ToString()], [], [new ProtocolPayload("json", new byte[200])])));
        }

        Assert.Equal(Enumerable.Range(0, Messages).Select(i => i.ToString()), await received.WaitAsync(Deadline));
        // Its channel stayed full past the send timeout: shut down, and what waited for it dropped.
        // The count goes up before the line is written: wait for both.
        const string Failed = "Worker 3 loses SignalR backplane messages: its channel failed";
        await Eventually.UntilAsync(() => relay.Dropped > 0 && _log.Lines.Any(line => line.Contains(Failed, StringComparison.Ordinal)), "messages to the stuck worker dropped", Deadline);
        Assert.Single(_log.Lines, line => line.Contains(Failed, StringComparison.Ordinal));
        Assert.DoesNotContain(_log.Lines, line => line.Contains("Worker 2", StringComparison.Ordinal));
    }

    [Fact]
    public void What_waits_for_a_worker_that_went_away_is_dropped_and_counted_and_it_gets_nothing_more()
    {
        using var relay = new BackplaneRelay(_log);
        var (senderPrimary, _) = Channel();
        var (gonePrimary, _) = Channel();
        relay.Receive(2, gonePrimary, Subscription());

        // Far more than its socket holds: most of it waits in the outbox when the worker goes.
        const int Messages = 1000;
        var message = Frame(new BackplaneMessage(BackplaneKind.All, "Hub", [], [], [new ProtocolPayload("json", new byte[4096])]));
        for (var i = 0; i < Messages; i++)
        {
            relay.Receive(1, senderPrimary, message);
        }

        relay.Remove(2);
        var dropped = relay.Dropped;
        relay.Receive(1, senderPrimary, message);

        Assert.InRange(dropped, Messages / 2, Messages);
        Assert.Equal(dropped, relay.Dropped);
        Assert.Single(_log.Lines, line => line.Contains("Worker 2 loses SignalR backplane messages: it has gone", StringComparison.Ordinal));
    }

    [Fact]
    public void Past_its_outbox_a_worker_that_reads_too_slowly_loses_messages_counted_and_logged_once()
    {
        using var relay = new BackplaneRelay(_log, outboxCapacity: 16);
        var (senderPrimary, _) = Channel();
        var (slowPrimary, _) = Channel();
        relay.Receive(2, slowPrimary, Subscription());

        // 4 MB: more than the socket and the outbox hold together, sent faster than any reader.
        var message = Frame(new BackplaneMessage(BackplaneKind.All, "Hub", [], [], [new ProtocolPayload("json", new byte[4096])]));
        for (var i = 0; i < 1000; i++)
        {
            relay.Receive(1, senderPrimary, message);
        }

        Assert.InRange(relay.Dropped, 500, 1000);
        Assert.Single(_log.Lines, line => line.Contains("Worker 2 loses SignalR backplane messages: it reads them too slowly", StringComparison.Ordinal));
    }

    [Fact]
    public void Any_bytes_read_back_as_a_message_that_writes_the_same_bytes_or_as_a_protocol_violation()
    {
        var valid = Gen.Select(Gen.Enum<BackplaneKind>(), Gen.String[0, 8], Gen.String[0, 8].Array[0, 3], Gen.Byte.Array[0, 40], (kind, hub, targets, bytes) =>
            new BackplaneMessage(kind, hub, targets, [], [new ProtocolPayload("json", bytes)]).Write());
        Gen.Frequency((1, Gen.Byte.Array[0, 80]), (2, valid), (2, valid.Select(Gen.Int[0, 80], (bytes, cut) => bytes[..Math.Min(cut, bytes.Length)]))).Sample(
            bytes =>
            {
                try
                {
                    Assert.Equal(bytes, BackplaneMessage.Read(bytes).Write());
                }
                catch (ProtocolViolationException)
                {
                    // What the primary does with it: drops the sender's channel.
                }
            },
            iter: 2_000);
    }

    private static Frame Subscription() => Frame(BackplaneMessage.Subscription);

    private static Frame Frame(BackplaneMessage message) => new(FrameType.Backplane, message.Write(), []);

    private (IpcChannel Primary, IpcChannel Worker) Channel()
    {
        var (primary, worker) = UnixSocketPair.Create();
        var pair = (new IpcChannel(primary, 1 << 20), new IpcChannel(worker, 1 << 20, receivesDescriptors: true));
        // As the primary's channel session sets it: a worker that does not read holds a send for at most this long.
        pair.Item1.SetSendTimeout(TimeSpan.FromSeconds(1));
        _owned.Add(pair.Item1);
        _owned.Add(pair.Item2);
        return pair;
    }
}
