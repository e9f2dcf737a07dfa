using ProcessCluster.Distribution;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

public class UpgradeHandoverTests
{
    private static readonly HandedWorker Worker = new(
        3, 4242, 17, 18, 19, Spare: false, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(2), 1, 1000, "/srv/releases/v1", "abc", "1.2.3", ["http://127.0.0.1:5000"]);

    [Fact]
    public void What_a_program_hands_over_its_next_program_reads_back_and_only_in_the_same_process()
    {
        var variables = UpgradeHandover.Variables(
            [HandedSocket.Of(12, System.Net.IPEndPoint.Parse("127.0.0.1:0"), SocketOrigin.Opened, "http"), HandedSocket.Of(3, System.Net.IPEndPoint.Parse("127.0.0.1:80"), SocketOrigin.Systemd, "https")],
            [Worker]).ToDictionary();

        var received = Read(variables, Environment.ProcessId)!;
        Assert.Null(received.Problem);
        Assert.Equal([new HandedSocket(12, "127.0.0.1:0", Unix: false), new HandedSocket(3, "127.0.0.1:80", Unix: false, Systemd: true, Scheme: "https")], received.Sockets!);
        Assert.Equal(Worker with { Addresses = [] }, Assert.Single(received.Workers!) with { Addresses = [] });
        Assert.Equal(Worker.Addresses, received.Workers![0].Addresses);
        Assert.Null(Read(variables, Environment.ProcessId + 1));
    }

    [Fact]
    public void A_workers_table_that_cannot_be_read_still_leaves_the_sockets_and_says_why()
    {
        var variables = UpgradeHandover.Variables([HandedSocket.Of(12, new System.Net.Sockets.UnixDomainSocketEndPoint("/run/app.sock"), SocketOrigin.Inherited, "http")], [Worker]).ToDictionary();
        variables[UpgradeHandover.WorkersVariable] = "[{\"Id\":";

        var received = Read(variables, Environment.ProcessId)!;
        Assert.Null(received.Workers);
        Assert.Equal("/run/app.sock", Assert.Single(received.Sockets!).RequestedEndPoint.ToString());
        Assert.StartsWith("the workers handed over cannot be read (", received.Problem);
    }

    private static UpgradeHandover.Received? Read(Dictionary<string, string> variables, int pid) => UpgradeHandover.Read(
        variables[UpgradeHandover.PidVariable], variables[UpgradeHandover.SocketsVariable], variables[UpgradeHandover.WorkersVariable], pid);
}
