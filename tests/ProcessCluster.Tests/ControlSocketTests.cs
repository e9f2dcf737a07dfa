using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Control;
using ProcessCluster.Interop;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Tests;

/// <summary>The control socket over a real Unix socket file: who may talk to it, bad requests, progress and replies.</summary>
public sealed class ControlSocketTests : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "processcluster-test-" + Guid.NewGuid().ToString("N"));
    private readonly List<ControlServer> _servers = [];

    private string SocketPath => Path.Combine(_directory, "control.sock");

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_socket_is_private_to_its_user_and_removed_on_dispose()
    {
        var server = Start(Echo);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_directory));
        await server.DisposeAsync();
        _servers.Remove(server);
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task A_peer_with_another_uid_is_refused_before_its_command_runs()
    {
        var ran = false;
        Start((request, _, _) => { ran = true; return Echo(request, null!, default); }, allowedUid: Libc.geteuid() + 1);
        var replies = await SendAsync("{\"command\":\"status\"}\n");
        var reply = Assert.Single(replies);
        Assert.False(reply.Ok);
        Assert.StartsWith($"refused: uid {Libc.geteuid()} may not control this cluster", reply.Error);
        Assert.False(ran);
    }

    [Theory]
    [InlineData("not json\n", "not a JSON command")]
    [InlineData("{\"workers\":\"3\"}\n", "the request has no \"command\"")]
    [InlineData("[1,2]\n", "not a JSON command")]
    public async Task A_bad_request_gets_a_clear_error_and_the_server_keeps_serving(string line, string error)
    {
        Start(Echo);
        var reply = Assert.Single(await SendAsync(line));
        Assert.False(reply.Ok);
        Assert.Contains(error, reply.Error);
        Assert.Equal("status", Assert.Single(await SendAsync("{\"command\":\"status\"}\n")).Message);
    }

    [Fact]
    public async Task An_overlong_request_is_refused()
    {
        Start(Echo);
        var reply = Assert.Single(await SendAsync(new string('x', ControlRequest.MaxLineBytes + 10)));
        Assert.Contains($"longer than {ControlRequest.MaxLineBytes} bytes", reply.Error);
    }

    [Fact]
    public async Task A_failing_command_answers_with_its_error_and_the_server_keeps_serving()
    {
        var calls = 0;
        Start((request, progress, token) => ++calls == 1 ? throw new InvalidOperationException("boom") : Echo(request, progress, token));
        Assert.Equal("the command failed: boom", Assert.Single(await SendAsync("{\"command\":\"status\"}\n")).Error);
        Assert.True(Assert.Single(await SendAsync("{\"command\":\"status\"}\n")).Ok);
    }

    [Fact]
    public async Task Progress_lines_come_before_the_final_reply()
    {
        Start(async (request, progress, _) =>
        {
            var log = new ClusterEventLog();
            log.Appended += @event => progress.TryWrite(ControlReply.Progress(@event));
            log.Add(ClusterEventKind.Forked, "worker 3 forked", 3, 1234);
            log.Add(ClusterEventKind.Ready, "worker 3 ready", 3, 1234);
            await Task.Yield();
            return ControlReply.Success("done");
        });
        var replies = await SendAsync("{\"command\":\"reload\"}\n");
        Assert.Equal(["worker 3 forked", "worker 3 ready", "done"], replies.Select(reply => reply.Event?.Message ?? reply.Message));
        Assert.Equal(3, replies[0].Event!.WorkerId);
    }

    [Fact]
    public void A_socket_left_by_a_killed_primary_is_replaced_but_a_live_one_is_not()
    {
        Directory.CreateDirectory(_directory);
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(SocketPath));
        }

        Start(Echo);
        var error = Assert.Throws<IOException>(() => new ControlServer(SocketPath, Echo, NullLogger.Instance));
        Assert.Contains("another process already serves", error.Message);
    }

    private static Task<ControlReply> Echo(ControlRequest request, ChannelWriter<ControlReply> progress, CancellationToken cancellationToken) =>
        Task.FromResult(ControlReply.Success(request.Command));

    private ControlServer Start(Func<ControlRequest, ChannelWriter<ControlReply>, CancellationToken, Task<ControlReply>> handle, uint? allowedUid = null)
    {
        var server = new ControlServer(SocketPath, handle, NullLogger.Instance, allowedUid);
        _servers.Add(server);
        return server;
    }

    private async Task<List<ControlReply>> SendAsync(string request)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request));
        using var reader = new StreamReader(stream);
        var replies = new List<ControlReply>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            replies.Add(ControlReply.Parse(line));
        }

        return replies;
    }
}
