using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;

namespace ProcessCluster.Tests;

/// <summary>
/// ReusePort's distribution on a real SO_REUSEPORT group and the real kernel's BPF: each connection made here is
/// accepted from whichever worker socket the kernel queued it on.
/// </summary>
public sealed class ReusePortDistributionTests : IDisposable
{
    private readonly List<BoundEndpoint> _endpoints = ListenSockets.Open(ClusterEndpoint.ParseUrls(["http://127.0.0.1:0"]), 256, reusePort: true, NullLogger.Instance);
    private readonly ReusePortDistribution _distribution;

    public ReusePortDistributionTests() => _distribution = new ReusePortDistribution(_endpoints, 256);

    public void Dispose()
    {
        _distribution.Dispose();
        _endpoints.ForEach(endpoint => endpoint.Dispose());
    }

    [Fact]
    public void Connections_spread_over_the_serving_workers_only_and_a_dead_workers_queue_waits_for_the_next_worker()
    {
        var sockets = Enumerable.Range(1, 3).Select(worker => _distribution.ListenFdsFor(worker).Single()).ToList();
        Assert.Equal(3, sockets.Distinct().Count());
        Assert.Equal(_endpoints[0].Fd, sockets[0]);

        // None serves yet: everything waits on the first starting worker's socket.
        Assert.Equal([3, 0, 0], Spread(sockets, 3));

        _distribution.AddWorker(1, null!);
        _distribution.AddWorker(2, null!);
        var two = Spread(sockets, 200);
        Assert.Equal(0, two[2]);
        Assert.All(two.Take(2), count => Assert.InRange(count, 60, 140));

        // Worker 1 leaves: the program's lookup table sends the rest to slots 1 and 2.
        _distribution.AddWorker(3, null!);
        _distribution.Retire(1);
        var rest = Spread(sockets, 100);
        Assert.Equal(0, rest[0]);
        Assert.All(rest.Skip(1), count => Assert.InRange(count, 20, 80));

        // Worker 2 dies with connections queued on its socket: they stay there for the next worker, given that socket.
        var queued = Connect(40);
        _distribution.RemoveWorker(2);
        Assert.Equal(sockets[1], _distribution.ListenFdsFor(4).Single());
        var waiting = 0;
        while (PollInterop.AnyReadable([sockets[1]], TimeSpan.Zero))
        {
            SocketInterop.Close(AcceptNow(sockets[1]));
            waiting++;
        }

        Assert.InRange(waiting, 1, 39);
        queued.ForEach(client => client.Dispose());
    }

    /// <summary>Makes <paramref name="connections"/> connections one at a time and counts them by the socket they were queued on.</summary>
    private List<int> Spread(List<int> sockets, int connections)
    {
        var counts = sockets.Select(_ => 0).ToList();
        for (var i = 0; i < connections; i++)
        {
            using var client = Connect(1).Single();
            Assert.True(PollInterop.AnyReadable(sockets, SupervisorHarness.Deadline));
            var readable = Enumerable.Range(0, sockets.Count).Single(index => PollInterop.AnyReadable([sockets[index]], TimeSpan.Zero));
            SocketInterop.Close(AcceptNow(sockets[readable]));
            counts[readable]++;
        }

        return counts;
    }

    private List<System.Net.Sockets.Socket> Connect(int count) => Enumerable.Range(0, count).Select(_ =>
    {
        var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        client.Connect(_endpoints[0].Bound);
        return client;
    }).ToList();

    private static int AcceptNow(int socket)
    {
        SocketInterop.SetNonBlocking(socket);
        var accepted = SocketInterop.Accept(socket, out var errno);
        Assert.True(accepted >= 0, $"accept failed: errno {errno}");
        return accepted;
    }
}
