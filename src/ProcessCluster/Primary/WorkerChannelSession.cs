using System.ComponentModel;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>What a worker's channel reported, as the supervisor loop receives it.</summary>
internal abstract record ChannelReport(WorkerHandle Worker);

internal sealed record ChannelConnected(WorkerHandle Worker) : ChannelReport(Worker);

internal sealed record ChannelListening(WorkerHandle Worker, IReadOnlyList<string> Addresses) : ChannelReport(Worker);

internal sealed record ChannelMessage(WorkerHandle Worker, JsonElement Message) : ChannelReport(Worker);

internal sealed record ChannelStopping(WorkerHandle Worker) : ChannelReport(Worker);

/// <summary>A worker's load; <paramref name="Alive"/> when it came through its thread pool's queue (a heartbeat).</summary>
internal sealed record ChannelLoad(WorkerHandle Worker, WorkerLoadReport Load, bool Alive) : ChannelReport(Worker);

internal sealed record ChannelClosed(WorkerHandle Worker, string? Reason) : ChannelReport(Worker);

/// <summary>
/// One authenticated worker channel, served on its own thread until it closes: sends the welcome, then reads frames
/// and turns each into a report for the supervisor loop. Acknowledgements go straight to the dispatcher, the one hot path.
/// </summary>
internal sealed class WorkerChannelSession(
    WelcomeFactory welcome,
    RoundRobinDispatcher? dispatcher,
    Action<ChannelReport> report,
    ILogger logger)
{
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(1);

    public void Run(WorkerHandle worker, IpcChannel channel)
    {
        string? reason = null;
        try
        {
            channel.SetSendTimeout(SendTimeout);
            var (message, fds) = welcome(worker);
            channel.SendJson(FrameType.Welcome, message, IpcJson.Default.WelcomeMessage, fds);
            report(new ChannelConnected(worker));
            while (channel.Receive() is { } frame)
            {
                Handle(worker, frame);
            }
        }
        catch (Exception error) when (error is ProtocolViolationException or Win32Exception)
        {
            reason = error.Message;
            logger.LogWarning("Dropped the channel of {Worker}: {Reason}", worker, reason);
        }
        finally
        {
            worker.Channel = null;
            report(new ChannelClosed(worker, reason));
        }
    }

    private void Handle(WorkerHandle worker, Frame frame)
    {
        if (frame.Fds.Length > 0)
        {
            Array.ForEach(frame.Fds, SocketInterop.Close);
            throw new ProtocolViolationException($"a worker sent descriptors with a {frame.Type} frame");
        }

        switch (frame.Type)
        {
            case FrameType.Ack:
                dispatcher?.OnAcks(worker.Id, FrameFormat.ReadAcks(frame));
                break;
            case FrameType.Heartbeat or FrameType.LoadReport:
                report(new ChannelLoad(worker, FrameFormat.ReadHeartbeat(frame), Alive: frame.Type == FrameType.Heartbeat));
                break;
            case FrameType.Listening:
                report(new ChannelListening(worker, IpcChannel.ReadJson(frame, IpcJson.Default.ListeningMessage).Addresses));
                break;
            case FrameType.Message:
                report(new ChannelMessage(worker, ParseMessage(frame)));
                break;
            case FrameType.Stopping:
                report(new ChannelStopping(worker));
                break;
            default:
                throw new ProtocolViolationException($"a worker may not send {frame.Type} frames");
        }
    }

    private static JsonElement ParseMessage(Frame frame)
    {
        try
        {
            using var document = JsonDocument.Parse(frame.Payload);
            return document.RootElement.Clone();
        }
        catch (JsonException error)
        {
            throw new ProtocolViolationException($"malformed message: {error.Message}");
        }
    }
}

/// <summary>The welcome for one worker, and the descriptors that go with it.</summary>
internal delegate (WelcomeMessage Message, int[] Fds) WelcomeFactory(WorkerHandle worker);
