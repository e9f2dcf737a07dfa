using System.Net.Sockets;
using System.Text;
using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests;

/// <summary>Type=notify: the primary tells systemd READY=1 once its workers serve, and STOPPING=1 when it drains.</summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"processcluster-notify-{Guid.NewGuid():N}.sock");
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public SystemdNotifyTests() => _socket.Bind(new UnixDomainSocketEndPoint(_path));

    public void Dispose()
    {
        _socket.Dispose();
        File.Delete(_path);
    }

    [Fact]
    public async Task Ready_comes_when_every_initial_worker_serves_and_stopping_when_the_drain_begins()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = _path }, waitUntilReady: false);

        var ready = await ReceiveAsync();
        Assert.Contains("READY=1", ready);
        Assert.Contains($"MAINPID={cluster.PrimaryPid}", ready);
        var status = await cluster.StatusAsync();
        Assert.Equal(2, status.Workers.Count(worker => worker.State == WorkerState.Ready));
        Assert.All(status.Workers, worker => Assert.DoesNotContain("NOTIFY_SOCKET", ProcessTree.Environment(worker.Pid).Keys));

        cluster.Signal(15);
        Assert.Contains("STOPPING=1", await ReceiveAsync());
        Assert.Equal(0, await cluster.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    private async Task<string> ReceiveAsync()
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }
}
