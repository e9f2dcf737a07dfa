using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Control;
using ProcessCluster.Interop;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Tests;

/// <summary>The control socket over a real Unix socket file: who may talk to it, bad requests, progress and replies.</summary>
public sealed class ControlSocketTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "processcluster-test-" + Guid.NewGuid().ToString("N"));
    private readonly List<ControlServer> _servers = [];

    private string SocketPath => Path.Combine(_directory, "control.sock");

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 does not call the latter, and each test left its directory behind.
    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(program, arguments);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
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

    [Theory]
    [InlineData(65534, "777", "it belongs to uid 65534, not 0")]
    [InlineData(null, "777", "its mode is 777, not 700")]
    [InlineData(null, "750", "its mode is 750, not 700")]
    public void A_control_directory_another_user_could_serve_in_is_refused(int? owner, string mode, string problem)
    {
        // As another local user would prepare it in /tmp before the primary starts.
        Directory.CreateDirectory(_directory);
        File.SetUnixFileMode(_directory, (UnixFileMode)Convert.ToInt32(mode, 8));
        if (owner is { } uid)
        {
            Assert.Equal(0u, Libc.geteuid()); // chown needs root, as the tests run
            Run("chown", uid.ToString(), _directory);
        }

        var error = Assert.Throws<IOException>(() => Start(Echo));
        Assert.Equal($"the control directory {_directory} is not private: {problem}; remove it, or set Cluster:ControlSocket", error.Message);
        Assert.False(File.Exists(SocketPath));
    }

    [Theory]
    [InlineData("/run/myapp", "/run/user/0", "/run/myapp/processcluster")]
    [InlineData("/run/myapp:/run/other", null, "/run/myapp/processcluster")]
    [InlineData(null, "/run/user/0", "/run/user/0/processcluster")]
    public void The_socket_goes_in_systemds_runtime_directory_first(string? runtimeDirectory, string? xdgRuntimeDir, string expected)
    {
        // No other test reads these variables; they are put back as they were.
        var saved = (Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY"), Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"));
        try
        {
            Environment.SetEnvironmentVariable("RUNTIME_DIRECTORY", runtimeDirectory);
            Environment.SetEnvironmentVariable("XDG_RUNTIME_DIR", xdgRuntimeDir);
            Assert.Equal(expected, ControlSocketPath.Directory());
        }
        finally
        {
            Environment.SetEnvironmentVariable("RUNTIME_DIRECTORY", saved.Item1);
            Environment.SetEnvironmentVariable("XDG_RUNTIME_DIR", saved.Item2);
        }
    }

    [Fact]
    public void A_symlink_to_a_private_directory_is_refused()
    {
        var target = _directory + "-target";
        Directory.CreateDirectory(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            File.CreateSymbolicLink(_directory, target);
            var error = Assert.Throws<IOException>(() => Start(Echo));
            Assert.Contains("is not private: it is not a directory (a symlink?)", error.Message);
            Assert.Empty(Directory.GetFileSystemEntries(target));
        }
        finally
        {
            File.Delete(_directory);
            Directory.Delete(target, recursive: true);
        }
    }

    [Fact]
    public void A_socket_left_by_a_killed_primary_is_replaced_but_a_live_one_is_not()
    {
        Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
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
