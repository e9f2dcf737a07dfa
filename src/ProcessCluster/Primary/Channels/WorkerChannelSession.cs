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

    /// <summary>Serves a newly claimed channel: the welcome, then its frames. True when it stopped for a pause (the channel stays open).</summary>
    public bool Run(WorkerHandle worker, IpcChannel channel) => Serve(worker, channel, () =>
    {
        channel.SetSendTimeout(SendTimeout);
        var (message, fds) = welcome.For(worker);
        channel.SendJson(FrameType.Welcome, message, IpcJson.Default.WelcomeMessage, fds);
        post(new ChannelConnected(worker));
    });

    /// <summary>Serves a channel again after a pause (an upgrade called off, or the new program adopting the worker): Resume, then its frames.</summary>
    public bool Resume(WorkerHandle worker, IpcChannel channel) => Serve(worker, channel, () =>
    {
        channel.SetSendTimeout(SendTimeout);
        channel.Send(FrameType.Resume, []);
    });

    private bool Serve(WorkerHandle worker, IpcChannel channel, Action open)
    {
        var paused = false;
        try
        {
            open();
            while (!paused && channel.Receive() is { } frame)
            {
                paused = Handle(worker, channel, frame);
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
            if (!paused)
            {
                backplane.Remove(worker.Id);
                post(new ChannelClosed(worker));
            }
        }

        return paused;
    }

    /// <summary>
    /// Each frame is checked against its contract (size, fields, types) before it becomes an event: what does not
    /// fit throws <see cref="ProtocolViolationException"/> and drops the channel. Descriptors never get here: the
    /// primary's end takes none (<see cref="IpcChannel"/>). True for Paused, the worker's last frame before Resume:
    /// this program reads no further, so the next one starts at a frame boundary.
    /// </summary>
    private bool Handle(WorkerHandle worker, IpcChannel channel, Frame frame)
    {
        switch (frame.Type)
        {
            case FrameType.Paused when frame.Payload.Length == 0:
                post(new WorkerPaused(worker));
                return true;
            case FrameType.Ack:
                distribution.OnAcks(worker.Id, FrameFormat.ReadAcks(frame));
                break;
            case FrameType.Heartbeat or FrameType.LoadReport:
                if (worker.OfferLoad(FrameFormat.ReadHeartbeat(frame), alive: frame.Type == FrameType.Heartbeat))
                {
                    post(new LoadReported(worker));
                }

                break;
            case FrameType.HttpMetrics:
                // Only exported, never decided on: the newest replaces the last, without the loop.
                worker.HttpMetrics = HttpMetricsFormat.Read(frame);
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

        return false;
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
