using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary.Channels;

/// <summary>
/// The private door workers come in by: an abstract Unix socket (nothing on disk). Each connection gets a thread that
/// reads its Hello (worker id and secret) and its peer's pid (SO_PEERCRED), and asks the supervisor loop which
/// starting worker, if any, that is; a claimed channel is then served on that thread until it closes.
/// </summary>
internal sealed class ChannelListener : IDisposable
{
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly int _maxPayload;
    private readonly Action<SupervisorEvent> _post;
    private readonly WorkerChannelSession _session;
    private readonly IClusterObserver _observer;

    public ChannelListener(int maxPayload, Action<SupervisorEvent> post, WorkerChannelSession session, IClusterObserver observer)
    {
        _maxPayload = maxPayload;
        _post = post;
        _session = session;
        _observer = observer;
        Name = $"processcluster.{Environment.ProcessId}.{SecureRandom.Hex(8)}";
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint("\0" + Name));
        _socket.Listen(128);
        new Thread(AcceptLoop) { IsBackground = true, Name = "cluster-channel-accept" }.Start();
    }

    /// <summary>The abstract socket name, without its leading NUL.</summary>
    public string Name { get; }

    public static string NewSecret() => SecureRandom.Hex(16);

    /// <summary>Whether the hello names this worker and carries its secret (compared in constant time).</summary>
    public static bool Proves(HelloMessage hello, WorkerHandle worker) =>
        hello.WorkerId == worker.Id
        && hello.Secret is { } secret
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(worker.Secret));

    private void AcceptLoop()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = _socket.Accept();
            }
            catch (Exception error) when (error is SocketException or ObjectDisposedException)
            {
                return;
            }

            new Thread(() => Serve(connection)) { IsBackground = true, Name = "cluster-channel" }.Start();
        }
    }

    /// <summary>Serves a paused channel again on a thread of its own (see <see cref="WorkerChannelSession.Resume"/>).</summary>
    public void Resume(WorkerHandle worker, IpcChannel channel) =>
        new Thread(() => CloseUnlessPaused(channel, _session.Resume(worker, channel))) { IsBackground = true, Name = "cluster-channel" }.Start();

    /// <summary>A paused channel stays open for whoever resumes it: this program, or its next one across the exec.</summary>
    private static void CloseUnlessPaused(IpcChannel channel, bool paused)
    {
        if (!paused)
        {
            channel.Dispose();
        }
    }

    private void Serve(Socket connection)
    {
        var channel = new IpcChannel(connection, _maxPayload);
        if (ReadHello(channel) is not var (pid, hello))
        {
            channel.Dispose();
            return;
        }

        var claim = new TaskCompletionSource<WorkerHandle?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _post(new ChannelOpened(pid, hello, channel, claim));
        // Giving up answers the claim itself, so a late answer from the loop cannot claim a channel closed here.
        if (!claim.Task.Wait(HelloTimeout))
        {
            claim.TrySetResult(null);
        }

        CloseUnlessPaused(channel, claim.Task.Result is { } worker && _session.Run(worker, channel));
    }

    private (int Pid, HelloMessage Hello)? ReadHello(IpcChannel channel)
    {
        var pid = 0;
        try
        {
            (pid, _) = SocketInterop.GetPeerCredentials(channel.Fd);
            channel.SetReceiveTimeout(HelloTimeout);
            var frame = channel.Receive() ?? throw new ProtocolViolationException("closed before saying hello");
            if (frame.Type != FrameType.Hello)
            {
                throw new ProtocolViolationException($"first frame was {frame.Type}, not Hello");
            }

            var hello = IpcChannel.ReadJson(frame, IpcJson.Default.HelloMessage);
            if (ChannelProtocol.CheckLibrary(hello.Library) is { } problem)
            {
                throw new ProtocolViolationException($"Hello with a {problem}");
            }

            channel.SetReceiveTimeout(TimeSpan.Zero);
            return (pid, hello);
        }
        catch (Exception error)
        {
            // Whatever a stranger's hello makes fail is a refusal, never an unhandled exception that ends the primary.
            _observer.ChannelRefused(pid, error is ProtocolViolationException or System.ComponentModel.Win32Exception ? error.Message : $"{error.GetType().Name}: {error.Message}");
            return null;
        }
    }

    public void Dispose() => _socket.Dispose();
}
