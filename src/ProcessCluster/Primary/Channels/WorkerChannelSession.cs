using System.ComponentModel;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary.Channels;

/// <summary>
/// One claimed worker channel, served on its own thread until it closes: sends the welcome, then reads frames and
/// turns each into an event for the supervisor loop. Acknowledgements go straight to the distribution, the one hot
/// path. What a worker can send faster than the loop reads is bounded: load reports coalesce to the newest, and
/// application messages wait for room.
/// </summary>
internal sealed class WorkerChannelSession(
    Welcome welcome, IConnectionDistribution distribution, BackplaneRelay backplane, Action<SupervisorEvent> post, ILogger logger)
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
                Handle(worker, channel, frame);
            }
        }
        catch (Exception error) when (error is ProtocolViolationException or Win32Exception)
        {
            SupervisorLog.ChannelDropped(logger, worker, error.Message);
        }
        catch (Exception error)
        {
            // A bug met on this worker's thread costs that worker its channel, never the primary (an unhandled
            // exception on any thread ends the process, and every worker with it).
            SupervisorLog.ChannelFailed(logger, error, worker);
        }
        finally
        {
            backplane.Remove(worker.Id);
            post(new ChannelClosed(worker));
        }
    }

    /// <summary>
    /// Each frame is checked against its contract (size, fields, types) before it becomes an event: what does not
    /// fit throws <see cref="ProtocolViolationException"/> and drops the channel. Descriptors never get here: the
    /// primary's end takes none (<see cref="IpcChannel"/>).
    /// </summary>
    private void Handle(WorkerHandle worker, IpcChannel channel, Frame frame)
    {
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
                post(new ChannelListening(worker, ReadAddresses(frame)));
                break;
            case FrameType.Message:
                var message = ParseMessage(frame);
                worker.WaitForMessageRoom();
                post(new ChannelMessage(worker, message));
                break;
            case FrameType.HealthResult:
                var (probeId, status) = FrameFormat.ReadHealthResult(frame);
                if (worker.TakeProbeAnswer(probeId))
                {
                    post(new HealthAnswered(worker, probeId, status));
                }

                break;
            case FrameType.Backplane:
                // Straight to the other workers, like acks: relaying hub messages is no decision of the loop's.
                backplane.Receive(worker.Id, channel, frame);
                break;
            case FrameType.Stopping when frame.Payload.Length == 0:
                post(new ChannelStopping(worker));
                break;
            default:
                throw new ProtocolViolationException($"a worker may not send {frame.Type} frames of {frame.Payload.Length} bytes");
        }
    }

    /// <summary>The JSON contract (required and non-null fields) does not reach inside the list.</summary>
    private static IReadOnlyList<string> ReadAddresses(Frame frame)
    {
        var addresses = IpcChannel.ReadJson(frame, IpcJson.Default.ListeningMessage).Addresses;
        return addresses.Contains(null!) ? throw new ProtocolViolationException("a Listening frame with a null address") : addresses;
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
