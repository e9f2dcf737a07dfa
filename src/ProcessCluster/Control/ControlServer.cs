using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;

namespace ProcessCluster.Control;

/// <summary>
/// The control socket: a Unix socket file (mode 0600, in a directory of mode 0700 owned by this uid) that takes one JSON command line per
/// connection and answers with JSON lines, progress first and the result last. Only a peer with the allowed uid
/// (SO_PEERCRED; the primary's own by default) is served. The file is removed on dispose.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly Func<ControlRequest, ChannelWriter<ControlReply>, CancellationToken, Task<ControlReply>> _handle;
    private readonly uint _allowedUid;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;

    /// <param name="handle">Runs a command: may write progress replies, returns the final one.</param>
    /// <param name="allowedUid">The only uid served; null: this process's effective uid.</param>
    public ControlServer(
        string path,
        Func<ControlRequest, ChannelWriter<ControlReply>, CancellationToken, Task<ControlReply>> handle,
        ILogger logger,
        uint? allowedUid = null)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the control socket needs Unix file modes and SO_PEERCRED");
        }

        Path = path;
        _handle = handle;
        _logger = logger;
        _allowedUid = allowedUid ?? Libc.geteuid();
        ControlSocketPath.EnsurePrivateDirectory(System.IO.Path.GetDirectoryName(path)!);
        RemoveStale(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _socket.Listen(16);
        _acceptLoop = ConnectionLoop.AcceptAsync(_socket, ServeAsync, _stopping.Token);
    }

    public string Path { get; }

    private static void RemoveStale(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            // Nobody listens: left behind by a primary that was killed.
            File.Delete(path);
            return;
        }

        throw new IOException($"another process already serves the control socket {path}");
    }

    private async Task ServeAsync(Socket connection)
    {
        using var _ = connection;
        await using var stream = new NetworkStream(connection, ownsSocket: false);
        var replies = Channel.CreateUnbounded<ControlReply>(new UnboundedChannelOptions { SingleReader = true });
        var writing = WriteRepliesAsync(stream, replies.Reader);
        try
        {
            var (_, uid) = SocketInterop.GetPeerCredentials((int)connection.Handle);
            if (uid != _allowedUid)
            {
                _logger.ConnectionRefused(uid, _allowedUid);
                replies.Writer.TryWrite(ControlReply.Failure($"refused: uid {uid} may not control this cluster (only uid {_allowedUid})"));
                return;
            }

            ControlReply result;
            try
            {
                var request = ControlRequest.Parse(await ReadLineAsync(stream).ConfigureAwait(false));
                result = await _handle(request, replies.Writer, _stopping.Token).ConfigureAwait(false);
            }
            catch (FormatException error)
            {
                result = ControlReply.Failure(error.Message);
            }

            replies.Writer.TryWrite(result);
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            _logger.ConnectionEndedEarly(error.Message);
        }
        catch (Exception error)
        {
            // A command that fails must not take the cluster with it: the client hears why.
            _logger.CommandFailed(error);
            replies.Writer.TryWrite(ControlReply.Failure($"the command failed: {error.Message}"));
        }
        finally
        {
            replies.Writer.TryComplete();
            await writing.ConfigureAwait(false);
            await ConnectionLoop.DiscardUnreadAsync(connection, stream).ConfigureAwait(false);
        }
    }

    /// <summary>Reads one request line, bounded in length and time.</summary>
    private static async Task<string> ReadLineAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        var buffer = new byte[ControlRequest.MaxLineBytes];
        var length = 0;
        while (true)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, length);
            if (newline >= 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, newline);
            }

            if (length == buffer.Length)
            {
                throw new FormatException($"the request is longer than {ControlRequest.MaxLineBytes} bytes");
            }

            int read;
            try
            {
                read = await stream.ReadAsync(buffer.AsMemory(length), timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new FormatException($"no complete request line within {RequestTimeout.TotalSeconds:0} s");
            }

            if (read == 0)
            {
                // End of stream without a newline: take what came as the request.
                return Encoding.UTF8.GetString(buffer, 0, length);
            }

            length += read;
        }
    }

    private async Task WriteRepliesAsync(NetworkStream stream, ChannelReader<ControlReply> replies)
    {
        try
        {
            await foreach (var reply in replies.ReadAllAsync().ConfigureAwait(false))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(reply.ToLine() + "\n")).ConfigureAwait(false);
            }
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away; the command itself goes on.
            _logger.ClientLeft(error.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        try
        {
            File.Delete(Path);
        }
        catch (IOException error)
        {
            _logger.SocketNotRemoved(Path, error.Message);
        }

        _stopping.Dispose();
    }
}
