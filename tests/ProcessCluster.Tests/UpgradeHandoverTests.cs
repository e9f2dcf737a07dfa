using ProcessCluster.Distribution;
using ProcessCluster.Ipc;
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

    [Theory]
    [InlineData("1")]
    [InlineData("3")]
    [InlineData("two")]
    public void Workers_that_speak_another_channel_protocol_are_not_taken_over_and_the_sockets_still_are(string protocol)
    {
        var variables = UpgradeHandover.Variables([HandedSocket.Of(12, System.Net.IPEndPoint.Parse("127.0.0.1:0"), SocketOrigin.Opened, "http")], [Worker]).ToDictionary();
        variables[UpgradeHandover.ProtocolVariable] = protocol;

        var received = Read(variables, Environment.ProcessId)!;
        Assert.Null(received.Workers);
        Assert.Single(received.Sockets!);
        Assert.Equal($"the workers speak channel protocol {protocol} and this program speaks {ChannelProtocol.Version}: they cannot be taken over", received.Problem);
    }

    [Fact]
    public void A_program_that_predates_the_protocol_variable_spoke_2()
    {
        var variables = UpgradeHandover.Variables([], [Worker]).ToDictionary();
        Assert.Equal(ChannelProtocol.Version.ToString(), variables[UpgradeHandover.ProtocolVariable]);
        var asTwo = Read(new(variables) { [UpgradeHandover.ProtocolVariable] = "2" }, Environment.ProcessId)!;
        variables.Remove(UpgradeHandover.ProtocolVariable);

        var absent = Read(variables, Environment.ProcessId)!;
        Assert.Equal(asTwo.Problem, absent.Problem);
        Assert.Equal(asTwo.Workers?.Count, absent.Workers?.Count);
    }

    private static UpgradeHandover.Received? Read(Dictionary<string, string> variables, int pid) => UpgradeHandover.Read(
        variables[UpgradeHandover.PidVariable], variables[UpgradeHandover.SocketsVariable], variables[UpgradeHandover.WorkersVariable],
        variables.GetValueOrDefault(UpgradeHandover.ProtocolVariable), pid);
}
