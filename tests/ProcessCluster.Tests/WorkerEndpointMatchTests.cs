using System.Net;
using System.Net.Sockets;
using ProcessCluster.Worker;

namespace ProcessCluster.Tests;

public class WorkerEndpointMatchTests
{
    private static WorkerEndpoint Endpoint(int index, string configured, string bound) =>
        new(index, IPEndPoint.Parse(configured), IPEndPoint.Parse(bound), inbox: null, sharedListenFd: null);

    private readonly IReadOnlyList<WorkerEndpoint> _endpoints =
    [
        Endpoint(0, "[::]:3000", "[::]:3000"),
        Endpoint(1, "127.0.0.1:0", "127.0.0.1:41001"),
        Endpoint(2, "127.0.0.1:0", "127.0.0.1:41002"),
        new(3, new UnixDomainSocketEndPoint("/run/app.sock"), new UnixDomainSocketEndPoint("/run/app.sock"), inbox: null, sharedListenFd: null),
    ];

    [Fact]
    public void A_unix_socket_request_matches_by_path_only()
    {
        Assert.Equal(3, WorkerEndpoint.Match(_endpoints, new HashSet<int>(), new UnixDomainSocketEndPoint("/run/../run/app.sock"))?.Index);
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int> { 3 }, new UnixDomainSocketEndPoint("/run/app.sock")));
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int>(), new UnixDomainSocketEndPoint("/run/other.sock")));
    }

    [Fact]
    public void The_welcome_carries_tcp_and_unix_endpoints_as_configured_and_bound()
    {
        var tcp = Ipc.EndpointInfo.From(IPEndPoint.Parse("127.0.0.1:0"), IPEndPoint.Parse("127.0.0.1:41001"));
        var unix = Ipc.EndpointInfo.From(new UnixDomainSocketEndPoint("/run/app.sock"), new UnixDomainSocketEndPoint("/run/app.sock"));

        Assert.Equal((IPEndPoint.Parse("127.0.0.1:0"), IPEndPoint.Parse("127.0.0.1:41001")), (tcp.Configured(), tcp.Bound()));
        Assert.Equal("/run/app.sock", Assert.IsType<UnixDomainSocketEndPoint>(unix.Configured()).ToString());
        Assert.Equal("/run/app.sock", Assert.IsType<UnixDomainSocketEndPoint>(unix.Bound()).ToString());
    }

    [Fact]
    public void Any_address_requests_match_either_family()
    {
        Assert.Equal(0, WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("0.0.0.0:3000"))?.Index);
        Assert.Equal(0, WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("[::]:3000"))?.Index);
    }

    [Fact]
    public void Port_zero_requests_take_port_zero_endpoints_in_order()
    {
        Assert.Equal(1, WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("127.0.0.1:0"))?.Index);
        Assert.Equal(2, WorkerEndpoint.Match(_endpoints, new HashSet<int> { 1 }, IPEndPoint.Parse("127.0.0.1:0"))?.Index);
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int> { 1, 2 }, IPEndPoint.Parse("127.0.0.1:0")));
    }

    [Fact]
    public void Other_addresses_are_not_the_clusters()
    {
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("127.0.0.1:3001")));
        Assert.Null(WorkerEndpoint.Match(_endpoints, new HashSet<int>(), IPEndPoint.Parse("10.0.0.1:0")));
    }
}
