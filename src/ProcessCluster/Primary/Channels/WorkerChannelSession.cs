using System.ComponentModel;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary.Channels;

/// <summary>
/// One claimed worker channel, served on its own thread until it closes: sends the welcome, then reads frames and
/// turns each into an event for the supervisor loop. Acknowledgements go straight to the distribution, the one hot
/// path. What a worker can send faster than the loop reads is bounded: load reports coalesce to the newest, and
/// application messages wait for room.
/// </summary>
internal sealed class WorkerChannelSession(Welcome welcome, IConnectionDistribution distribution, Action<SupervisorEvent> post, ILogger logger)
{
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(1);

    public void Run(WorkerHandle worker, IpcChannel channel)
    {
        try
        {
            channel.SetSendTimeout(SendTimeout);
            var (message, fds) = welcome.For(worker);
            channel.SendJson(FrameType.Welcome, message, IpcJson.Default.WelcomeMessage, fds);
            post(new ChannelConnected(worker));
            while (channel.Receive() is { } frame)
            {
                Handle(worker, frame);
            }
        }
        catch (Exception error) when (error is ProtocolViolationException or Win32Exception)
        {
            SupervisorLog.ChannelDropped(logger, worker, error.Message);
        }
        finally
        {
            post(new ChannelClosed(worker));
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
                distribution.OnAcks(worker.Id, FrameFormat.ReadAcks(frame));
                break;
            case FrameType.Heartbeat or FrameType.LoadReport:
                if (worker.OfferLoad(FrameFormat.ReadHeartbeat(frame), alive: frame.Type == FrameType.Heartbeat))
                {
                    post(new LoadReported(worker));
                }

                break;
            case FrameType.Listening:
                var addresses = IpcChannel.ReadJson(frame, IpcJson.Default.ListeningMessage).Addresses
                    ?? throw new ProtocolViolationException("a Listening frame without addresses");
                post(new ChannelListening(worker, addresses));
                break;
            case FrameType.Message:
                var message = ParseMessage(frame);
                worker.WaitForMessageRoom();
                post(new ChannelMessage(worker, message));
                break;
            case FrameType.Stopping:
                post(new ChannelStopping(worker));
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
