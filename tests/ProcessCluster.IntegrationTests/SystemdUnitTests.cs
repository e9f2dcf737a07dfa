using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// deploy/systemd's units, with this test playing systemd: it holds the .socket's listening socket and passes it at
/// descriptor 3 (through a bash wrapper: dash takes one-digit descriptors only; LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), runs the primary with the .service's settings and a notify
/// socket, reloads it as Type=notify-reload does, and restarts it under load.
/// </summary>
public sealed partial class SystemdUnitTests : IDisposable
{
    private const int SIGHUP = 1;
    private const int SIGTERM = 15;
    private const int F_SETFD = 2;
    private const int FD_CLOEXEC = 1;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _runtime = Directory.CreateTempSubdirectory("processcluster-systemd-");
    private readonly Socket _notify = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public SystemdUnitTests() => _notify.Bind(new UnixDomainSocketEndPoint(NotifyPath));

    private string NotifyPath => Path.Combine(_runtime.FullName, "notify.sock");

    public void Dispose()
    {
        _notify.Dispose();
        _listener.Dispose();
        _runtime.Delete(recursive: true);
    }

    [Fact]
    public async Task The_sample_units_adopt_systemds_socket_announce_a_reload_and_restart_under_load_without_refusing_a_connection()
    {
        var socketUnit = SystemdUnit.Read("seeddemo.socket");
        var service = SystemdUnit.Read("seeddemo.service");
        Assert.Equal("notify-reload", service.Get("Type"));
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(int.Parse(socketUnit.Get("Backlog")));
        var port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        var url = $"http://127.0.0.1:{port}";
        Directory.CreateDirectory(Path.Combine(_runtime.FullName, service.Get("RuntimeDirectory")), (UnixFileMode)Convert.ToInt32(service.Get("RuntimeDirectoryMode"), 8));

        await using var first = await StartAsync(service, socketUnit, url);
        Assert.Contains("READY=1", await ReceiveAsync());
        await first.WaitForLineAsync(line => line.Contains($"Adopted the listening socket 127.0.0.1:{port} (http) passed by systemd"), Deadline);
        using var client = new AppClient(new Uri(url));
        Assert.StartsWith("hello from ", await client.GetAsync("/hello"));
        Assert.All(await first.ReadyPidsAsync(), pid => Assert.DoesNotContain("LISTEN_FDS", ProcessTree.Environment(pid).Keys));

        // systemctl reload: SIGHUP, then RELOADING=1 with the time on CLOCK_MONOTONIC, then READY=1 once the workers are new.
        var before = MonotonicMicroseconds();
        first.Signal(SIGHUP);
        var reloading = await ReceiveAsync();
        Assert.Contains("RELOADING=1", reloading);
        Assert.InRange(long.Parse(MonotonicPattern().Match(reloading).Groups[1].Value), before, MonotonicMicroseconds());
        var reloaded = await ReceiveAsync();
        Assert.Contains("READY=1", reloaded);
        Assert.Contains("STATUS=Reload finished: 2 of 2 workers replaced", reloaded);

        // systemctl restart under load: what arrives while no primary runs waits in the queue of the socket held here.
        await using var load = LoadGenerator.Start(new Uri($"{url}/hello"), concurrency: 4, newConnectionPerRequest: true);
        await load.WaitForSuccessesAsync(50, Deadline);
        first.Signal(SIGTERM);
        Assert.Contains("STOPPING=1", await ReceiveAsync());
        Assert.Equal(0, await first.WaitForExitAsync(Deadline));

        await using var second = await StartAsync(service, socketUnit, url);
        Assert.Contains("READY=1", await ReceiveAsync());
        var serving = await second.ReadyPidsAsync();
        await load.WaitForSuccessesAsync(load.Succeeded + 100, Deadline);
        var report = await load.StopAsync();
        report.AssertNoneFailed();
        Assert.Equal(0, report.Refused);
        Assert.Contains(report.ResponsesByPid.Keys, serving.Contains);
    }

    /// <summary>The primary as systemd starts it: the socket at descriptor 3 with LISTEN_PID its own pid, the unit's environment.</summary>
    private async Task<TestCluster> StartAsync(SystemdUnit service, SystemdUnit socketUnit, string url)
    {
        var fd = (int)_listener.SafeHandle.DangerousGetHandle();
        Assert.NotEqual(3, fd);
        var environment = service.Environment().ToDictionary(
            variable => variable.Name,
            variable => variable.Value.Replace("%t", _runtime.FullName, StringComparison.Ordinal)
                .Replace(service.Get("WorkingDirectory"), Path.GetDirectoryName(TestCluster.TestAppAssembly), StringComparison.Ordinal));
        environment["NOTIFY_SOCKET"] = NotifyPath;
        string[] launcher = ["bash", "-c", $"export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES={socketUnit.Get("FileDescriptorName")}; exec \"$@\" 3<&{fd} {fd}<&-", "bash"];

        // Inherited only by this start (as systemd passes it), not by every process the tests start later.
        Assert.Equal(0, fcntl(fd, F_SETFD, 0));
        try
        {
            return await TestCluster.StartAsync("RoundRobin", workers: 2, urls: url, environment: environment, launcher: launcher);
        }
        finally
        {
            Assert.Equal(0, fcntl(fd, F_SETFD, FD_CLOEXEC));
        }
    }

    private async Task<string> ReceiveAsync()
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Deadline);
        var length = await _notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    private static long MonotonicMicroseconds() => Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [GeneratedRegex(@"MONOTONIC_USEC=(\d+)")]
    private static partial Regex MonotonicPattern();
}
