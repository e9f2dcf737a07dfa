using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// This worker's channel to its primary: the Hello/Welcome handshake, then one thread reading frames and handing each
/// to an <see cref="IPrimaryFrameHandler"/>. End of stream, or a frame the primary may not send, means the channel is
/// lost; the worker then ends (see <see cref="ExitForLostChannel"/>). Any thread may send.
/// </summary>
internal sealed class PrimaryConnection
{
    private readonly IpcChannel _channel;
    private readonly Action<string> _lost;

    // Every send passes this gate: while the primary re-executes itself (Pause .. Resume) nothing is sent, so its next
    // program starts reading at a frame boundary. What is sent meanwhile is held, in order, and goes out on Resume:
    // senders never wait, since they are the thread pool's threads (heartbeats, load reports, acks) and two of them
    // blocked for the primary's start-up would starve the app's requests on a 2-core machine.
    private readonly object _gate = new();
    private readonly List<(FrameType Type, byte[] Payload)> _held = [];
    private bool _paused;

    // The primary whose death this worker's reader thread dies with (0: none, as in tests). The parent-death signal
    // belongs to the thread that asked for it, so the reader thread alone arms it, drops it on Pause, re-arms it on Resume.
    private int _dieWith;

    private PrimaryConnection(IpcChannel channel, WelcomeMessage welcome, int[] sharedFds, Action<string> lost)
    {
        _channel = channel;
        Welcome = welcome;
        SharedFds = sharedFds;
        _lost = lost;
    }

    public WelcomeMessage Welcome { get; }

    /// <summary>Shared and ReusePort: one listening descriptor per endpoint, in the Welcome's order; otherwise empty.</summary>
    public int[] SharedFds { get; }

    /// <summary>
    /// Connects to the primary named in <paramref name="environment"/> and authenticates; exits at once if the primary
    /// is already gone. Once started, the reader thread arms the parent-death signal, so the worker dies with its
    /// primary even when the primary is SIGKILLed.
    /// </summary>
    public static PrimaryConnection Connect(WorkerEnvironment environment, int maxMessageBytes)
    {
        if (ProcessInterop.ParentId() is var parent && parent != environment.PrimaryPid)
        {
            ExitSaying(ProcessInterop.Signal(environment.PrimaryPid, 0)
                ? $"Worker {environment.WorkerId} (pid {Environment.ProcessId}) has parent {parent}, not primary {environment.PrimaryPid}: the worker command runs the app through a wrapper that forks (timeout, perf record, strace -f), which would leave the app alive when the primary dies. Use one that execs (env, nice, sh -c 'exec ...'); exiting"
                : $"Primary {environment.PrimaryPid} is gone before worker {environment.WorkerId} started; exiting");
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint("\0" + environment.ChannelName));
        var connection = Open(socket, new HelloMessage(environment.WorkerId, environment.Secret, ChannelProtocol.Version, ChannelProtocol.Library), maxMessageBytes, ExitForLostChannel(environment.WorkerId));
        connection._dieWith = environment.PrimaryPid;
        return connection;
    }

    /// <summary>The handshake on an already connected socket; <paramref name="lost"/> runs when the channel is lost (tests observe it instead of exiting).</summary>
    internal static PrimaryConnection Open(Socket socket, HelloMessage hello, int maxMessageBytes, Action<string> lost)
    {
        var channel = new IpcChannel(socket, maxMessageBytes, receivesDescriptors: true);
        channel.SendJson(FrameType.Hello, hello, IpcJson.Default.HelloMessage);
        var frame = channel.Receive() ?? throw new InvalidOperationException($"the primary refused worker {hello.WorkerId}");
        if (frame.Type != FrameType.Welcome)
        {
            throw new ProtocolViolationException($"expected Welcome from the primary, got {frame.Type}");
        }

        var welcome = IpcChannel.ReadJson(frame, IpcJson.Default.WelcomeMessage);
        if (!ChannelProtocol.Speaks(welcome.Protocol))
        {
            throw new ProtocolViolationException(ChannelProtocol.Mismatch(ChannelProtocol.Version, ChannelProtocol.Library, welcome.Protocol, welcome.Library));
        }

        // Shared and ReusePort: the worker accepts, on the sockets the primary sends.
        var expectedFds = welcome.Scheduling == SchedulingMode.RoundRobin ? 0 : welcome.Endpoints.Count;
        if (frame.Fds.Length != expectedFds)
        {
            throw new ProtocolViolationException($"Welcome carried {frame.Fds.Length} descriptors for {welcome.Endpoints.Count} endpoints");
        }

        return new PrimaryConnection(channel, welcome, frame.Fds, lost);
    }

    /// <summary>Starts the reader thread; frames go to <paramref name="handler"/> one at a time, in order.</summary>
    public void Start(IPrimaryFrameHandler handler) =>
        new Thread(() => ReadLoop(handler)) { IsBackground = true, Name = "cluster-worker-channel" }.Start();

    /// <summary>Sends a frame; throws when the channel is gone. While the primary is paused, the frame is held for Resume.</summary>
    public void Send(FrameType type, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            if (_paused)
            {
                _held.Add((type, payload.ToArray()));
                return;
            }

            _channel.Send(type, payload);
        }
    }

    /// <summary>Sends a frame if the channel still stands: when it is gone, so very soon is this process, and the reader handles that.</summary>
    public void TrySend(FrameType type, ReadOnlySpan<byte> payload)
    {
        try
        {
            Send(type, payload);
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // Nobody left to tell.
        }
    }

    /// <summary>Tells the primary the app listens on these addresses: the worker is ready for connections.</summary>
    public void ReportListening(IReadOnlyList<string> addresses) =>
        Send(FrameType.Listening, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new ListeningMessage(addresses), IpcJson.Default.ListeningMessage));

    /// <summary>Tells the primary the app is shutting down: it gets no more connections.</summary>
    public void ReportStopping() => TrySend(FrameType.Stopping, []);

    private void ReadLoop(IPrimaryFrameHandler handler)
    {
        if (_dieWith != 0 && !ProcessInterop.DieWithParent(_dieWith))
        {
            _lost("the primary is gone");
            return;
        }

        try
        {
            while (_channel.Receive() is { } frame)
            {
                Dispatch(frame, handler);
            }

            _lost("the primary is gone");
        }
        catch (Exception error) when (error is ProtocolViolationException or Win32Exception)
        {
            _lost(error.Message);
        }
    }

    private void Dispatch(Frame frame, IPrimaryFrameHandler handler)
    {
        switch (frame.Type)
        {
            case FrameType.Pause when frame.Payload.Length == 0:
                Pause();
                break;
            case FrameType.Resume when frame.Payload.Length == 0:
                Resume();
                break;
            case FrameType.NewConnection:
                var connections = FrameFormat.ReadNewConnections(frame);
                for (var i = 0; i < connections.Length; i++)
                {
                    handler.ConnectionHandedOver(connections[i].ConnectionId, connections[i].Endpoint, frame.Fds[i]);
                }

                break;
            case FrameType.Message:
                using (var document = ParseMessage(frame))
                {
                    handler.MessageReceived(document.RootElement.Clone());
                }

                break;
            case FrameType.Shed:
                handler.ShedRequested(FrameFormat.ReadShed(frame));
                break;
            case FrameType.Disconnect:
                handler.DisconnectRequested();
                break;
            case FrameType.HealthProbe:
                var (id, timeout, path) = FrameFormat.ReadHealthProbe(frame);
                handler.HealthProbeRequested(id, timeout, path);
                break;
            case FrameType.Backplane when frame.Fds.Length == 0:
                handler.BackplaneReceived(BackplaneMessage.Read(frame.Payload));
                break;
            default:
                Array.ForEach(frame.Fds, SocketInterop.Close);
                throw new ProtocolViolationException($"the primary may not send {frame.Type} frames here");
        }
    }

    /// <summary>Answers Paused as the last frame before Resume, and lets the primary's threads end without taking this worker along.</summary>
    private void Pause()
    {
        lock (_gate)
        {
            ProcessInterop.ForgetParentDeath();
            _channel.Send(FrameType.Paused, []);
            _paused = true;
        }
    }

    /// <summary>The same primary (same pid) reads again: dying with it is armed again, and what was held goes out first, in order.</summary>
    private void Resume()
    {
        lock (_gate)
        {
            if (_dieWith != 0 && !ProcessInterop.DieWithParent(_dieWith))
            {
                _lost("the primary is gone");
            }

            _paused = false;
            try
            {
                _held.ForEach(frame => _channel.Send(frame.Type, frame.Payload));
            }
            catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
            {
                // The channel is gone; the reader sees it next.
            }

            _held.Clear();
        }
    }

    private static JsonDocument ParseMessage(Frame frame)
    {
        try
        {
            return JsonDocument.Parse(frame.Payload);
        }
        catch (JsonException error)
        {
            throw new ProtocolViolationException($"malformed message: {error.Message}");
        }
    }

    /// <summary>Without its primary a worker gets no connections (RoundRobin) or would serve unsupervised (Shared): it ends now.</summary>
    private static Action<string> ExitForLostChannel(int workerId) => reason =>
        ExitSaying($"Worker {workerId} (pid {Environment.ProcessId}) lost its channel ({reason}); exiting");

    /// <summary>Ends the worker with code 1; the line goes straight to stderr, since the logger's queue would not be flushed by an immediate exit.</summary>
    private static void ExitSaying(string line)
    {
        Console.Error.WriteLine(line);
        ProcessInterop.ExitImmediately(1);
    }
}
