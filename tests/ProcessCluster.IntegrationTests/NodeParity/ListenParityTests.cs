using System.Net;
using System.Net.Sockets;

namespace ProcessCluster.IntegrationTests.NodeParity;

/// <summary>
/// Node's test-cluster-* files on listening sockets and bind errors. In Node the primary binds for its workers and passes the error to the
/// worker's listen(); ours binds every port before any worker starts, so the error reaches the app where it is started:
/// ClusterPrimary.Start throws it, and a host prints one line and exits 2 (ConfigurationTests, StandalonePrimaryTests).
/// </summary>
public class ListenParityTests
{
    private static ClusterOptions OneWorker() => new() { Workers = 1 };

    // Node asserts: of two independent clusters on one port, the second one's worker gets EADDRINUSE.
    // Ours: the second primary's start fails with EADDRINUSE, leaving nothing open, and the first serves on.
    [Fact]
    public async Task test_cluster_bind_twice()
    {
        await using var first = await ParityCluster.StartAsync(OneWorker());
        var worker = await first.ReadyWorkerAsync(1);

        var error = await Assert.ThrowsAsync<SocketException>(() => ParityCluster.StartAsync(OneWorker(), first.Primary.Urls[0]));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        using var client = new AppClient(first.BaseAddress);
        Assert.Equal(worker.ProcessId, await client.HelloPidAsync());
    }

    // Node asserts: after an EADDRINUSE, freeing the port and listening again works: no stale failure is cached.
    [Fact]
    public async Task test_cluster_eaddrinuse()
    {
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";
        var error = await Assert.ThrowsAsync<SocketException>(() => ParityCluster.StartAsync(OneWorker(), url));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);

        taken.Stop();
        taken.Dispose();
        await using var cluster = await ParityCluster.StartAsync(OneWorker(), url);
        var worker = await cluster.ReadyWorkerAsync(1);
        using var client = new AppClient(cluster.BaseAddress);
        Assert.Equal(worker.ProcessId, await client.HelloPidAsync());
    }

    // Node asserts: the backlog a worker asks for is the one the primary listens with (round robin).
    // Ours: the primary listens with Cluster:Backlog; the kernel shows it as a listener's Send-Q.
    [Fact]
    public async Task test_cluster_net_listen_backlog()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1, Backlog = 37 });
        await cluster.ReadyWorkerAsync(1);
        using var ss = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ss", ["-Hltn", $"sport = :{cluster.BaseAddress.Port}"]) { RedirectStandardOutput = true })!;
        var listener = (await ss.StandardOutput.ReadToEndAsync()).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        await ss.WaitForExitAsync();
        Assert.Equal("37", listener[2]);
    }

    // Node asserts: a worker of a non-root user listening on port 42 gets EACCES (the primary's bind error reaches it).
    // Ours: a primary run as a non-root user (nobody, through setpriv; the tests run as root) says so in one line and
    // exits 2, having started no worker.
    [Fact]
    public async Task test_cluster_bind_privileged_port()
    {
        string[] asNobody = Environment.UserName == "root" ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
        var result = await ClusterCli.RunAsAsync(
            asNobody, "run", "--urls=http://127.0.0.1:42", "--Cluster:ControlSocket=off", "--", "dotnet", TestCluster.TestAppAssembly);

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single((result.Output + result.Error).Split('\n'), line => line.Contains("Permission denied", StringComparison.Ordinal));
        Assert.Contains("Cannot start the cluster: Permission denied", line, StringComparison.Ordinal);
        Assert.DoesNotContain("started on", result.Output, StringComparison.Ordinal);
    }
}
