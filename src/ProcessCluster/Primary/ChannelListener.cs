using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>
/// The private door workers come in by: an abstract Unix socket (nothing on disk), where a connection is kept only
/// if its peer's pid (SO_PEERCRED) is a worker this primary started and is not yet connected, and its first frame
/// carries that worker's id and secret. Each accepted channel gets a thread that reads it until it closes.
/// </summary>
internal sealed class ChannelListener : IDisposable
{
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly int _maxPayload;
    private readonly Func<int, WorkerHandle?> _findStartingWorker;
    private readonly Action<WorkerHandle, IpcChannel> _runChannel;
    private readonly ILogger _logger;
    private readonly Thread _acceptThread;

    /// <param name="findStartingWorker">The not-yet-connected worker with this pid, or null.</param>
    /// <param name="runChannel">Serves an authenticated channel on the calling thread until it closes.</param>
    public ChannelListener(int maxPayload, Func<int, WorkerHandle?> findStartingWorker, Action<WorkerHandle, IpcChannel> runChannel, ILogger logger)
    {
        _maxPayload = maxPayload;
        _findStartingWorker = findStartingWorker;
        _runChannel = runChannel;
        _logger = logger;
        Name = $"processcluster.{Environment.ProcessId}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint("\0" + Name));
        _socket.Listen(128);
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "cluster-channel-accept" };
        _acceptThread.Start();
    }

    /// <summary>The abstract socket name, without its leading NUL.</summary>
    public string Name { get; }

    public static string NewSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

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

    private void Serve(Socket connection)
    {
        using var channel = new IpcChannel(connection, _maxPayload);
        var worker = Authenticate(channel);
        if (worker is not null)
        {
            _runChannel(worker, channel);
        }
    }

    private WorkerHandle? Authenticate(IpcChannel channel)
    {
        int pid;
        try
        {
            (pid, _) = SocketInterop.GetPeerCredentials(channel.Fd);
        }
        catch (Exception error)
        {
            _logger.LogWarning("Refused a channel connection: its peer is unknown ({Error})", error.Message);
            return null;
        }

        var worker = _findStartingWorker(pid);
        if (worker is null)
        {
            _logger.LogWarning("Refused a channel connection from pid {Pid}: not a worker this primary started", pid);
            return null;
        }

        try
        {
            channel.SetReceiveTimeout(HelloTimeout);
            var frame = channel.Receive() ?? throw new ProtocolViolationException("closed before saying hello");
            if (frame.Type != FrameType.Hello)
            {
                throw new ProtocolViolationException($"first frame was {frame.Type}, not Hello");
            }

            var hello = IpcChannel.ReadJson(frame, IpcJson.Default.HelloMessage);
            var secretMatches = CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(hello.Secret), Encoding.UTF8.GetBytes(worker.Secret));
            if (hello.WorkerId != worker.Id || !secretMatches)
            {
                throw new ProtocolViolationException("wrong worker id or secret");
            }

            channel.SetReceiveTimeout(TimeSpan.Zero);
            return worker;
        }
        catch (Exception error) when (error is ProtocolViolationException or System.ComponentModel.Win32Exception)
        {
            _logger.LogWarning("Refused a channel connection from pid {Pid}: {Reason}", pid, error.Message);
            return null;
        }
    }

    public void Dispose() => _socket.Dispose();
}
