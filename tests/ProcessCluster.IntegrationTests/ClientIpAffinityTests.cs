using System.Net;
using System.Net.Sockets;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Cluster:Affinity=ClientIp with real connections from several loopback source addresses (the client socket bound to
/// 127.0.0.N before it connects to the cluster on 127.0.0.1): every connection from one address reaches one worker,
/// and the addresses spread over the workers.
/// </summary>
public class ClientIpAffinityTests
{
    private const int ConnectionsPerAddress = 4;

    /// <summary>With a hash seeded per primary, all of them on one of 2 workers has a chance of 2^-23.</summary>
    private const int Addresses = 24;

    [Fact]
    public async Task Every_connection_from_one_client_address_reaches_the_same_worker_and_addresses_spread_over_the_workers()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__Affinity"] = "ClientIp" });
        var pids = await cluster.ReadyPidsAsync();

        var workerOf = new Dictionary<IPAddress, int>();
        foreach (var source in Enumerable.Range(1, Addresses).Select(n => IPAddress.Parse($"127.0.0.{n}")))
        {
            // Each request on a connection of its own: round-robin would alternate the workers.
            var seen = new HashSet<int>();
            for (var i = 0; i < ConnectionsPerAddress; i++)
            {
                seen.Add(await HelloPidFromAsync(cluster.BaseAddress, source));
            }

            workerOf[source] = Assert.Single(seen);
        }

        Assert.Equal(pids.Order(), workerOf.Values.Distinct().Order());
    }

    /// <summary>GET /hello on a new connection whose local address is <paramref name="source"/>; the pid that answered.</summary>
    private static async Task<int> HelloPidFromAsync(Uri baseAddress, IPAddress source)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var text = await client.GetStringAsync(new Uri("/hello", UriKind.Relative));
        return int.Parse(text["hello from ".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
