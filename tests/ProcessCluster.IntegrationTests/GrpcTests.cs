using Grpc.Core;
using ProcessCluster.GrpcApp;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// A gRPC service (Grpc.AspNetCore) behind the cluster, called with Grpc.Net.Client over h2c and TLS. An HTTP/2
/// connection carries every call of its channel, so it stays on the worker that got it; the spread comes from many connections.
/// </summary>
public class GrpcTests
{
    private const int SIGHUP = 1;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("RoundRobin", false)]
    [InlineData("RoundRobin", true)]
    [InlineData("Shared", false)]
    [InlineData("Shared", true)]
    public async Task Unary_server_streaming_and_bidirectional_calls_succeed_and_one_channel_stays_on_one_worker(string scheduling, bool tls)
    {
        await using var server = await GrpcCluster.StartAsync(scheduling, tls);
        var workers = await server.Cluster.ReadyPidsAsync();
        using var channel = server.OpenChannel();
        var client = new WorkerInfo.WorkerInfoClient(channel);

        var unary = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            unary.Add((await client.WhoAsync(new WhoRequest())).Pid);
        }

        var pid = Assert.Single(unary.Distinct());
        Assert.Contains(pid, workers);

        using var ticks = client.Ticks(new TicksRequest { Count = 5, IntervalMs = 10 });
        var replies = new List<TickReply>();
        await foreach (var reply in ticks.ResponseStream.ReadAllAsync())
        {
            replies.Add(reply);
        }

        Assert.Equal([0, 1, 2, 3, 4], replies.Select(reply => reply.Index));
        Assert.All(replies, reply => Assert.Equal(pid, reply.Pid));

        using var echo = client.Echo();
        foreach (var text in new[] { "one", "two", "three" })
        {
            await echo.RequestStream.WriteAsync(new EchoRequest { Text = text });
            Assert.True(await echo.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(text, echo.ResponseStream.Current.Text);
            Assert.Equal(pid, echo.ResponseStream.Current.Pid);
        }

        await echo.RequestStream.CompleteAsync();
        Assert.False(await echo.ResponseStream.MoveNext(CancellationToken.None));
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task Many_channels_each_its_own_connection_spread_over_both_workers(string scheduling)
    {
        await using var server = await GrpcCluster.StartAsync(scheduling, tls: false);
        var workers = await server.Cluster.ReadyPidsAsync();
        var channelsByPid = await ConnectionSpread.CountAsync(async _ =>
        {
            using var channel = server.OpenChannel();
            var client = new WorkerInfo.WorkerInfoClient(channel);
            var pid = (await client.WhoAsync(new WhoRequest())).Pid;
            Assert.Equal(pid, (await client.WhoAsync(new WhoRequest())).Pid);
            return pid;
        });

        ConnectionSpread.AssertSpread(channelsByPid, workers, scheduling);
    }

    [Fact]
    public async Task A_rolling_reload_lets_a_stream_shorter_than_the_drain_timeout_finish_and_an_idle_channel_reconnects_to_a_new_worker()
    {
        await using var server = await GrpcCluster.StartAsync("RoundRobin", tls: false);
        var original = await server.Cluster.ReadyPidsAsync();
        using var idleChannel = server.OpenChannel();
        var idle = new WorkerInfo.WorkerInfoClient(idleChannel);
        Assert.Contains((await idle.WhoAsync(new WhoRequest())).Pid, original);

        using var streamChannel = server.OpenChannel();
        using var ticks = new WorkerInfo.WorkerInfoClient(streamChannel).Ticks(new TicksRequest { Count = 40, IntervalMs = 200 });
        Assert.True(await ticks.ResponseStream.MoveNext(CancellationToken.None));
        var streamPid = ticks.ResponseStream.Current.Pid;

        // The worker under the stream drains: it stops getting connections, its HTTP/2 connections get a GOAWAY, and
        // Kestrel's graceful shutdown lets the stream finish within the drain timeout (30 s by default).
        server.Cluster.Signal(SIGHUP);
        var indices = new List<int> { ticks.ResponseStream.Current.Index };
        await foreach (var reply in ticks.ResponseStream.ReadAllAsync())
        {
            Assert.Equal(streamPid, reply.Pid);
            indices.Add(reply.Index);
        }

        Assert.Equal(Enumerable.Range(0, 40), indices);
        var current = await server.Cluster.WaitForReadyPidsAsync(
            pids => pids.Count == 2 && !pids.Intersect(original).Any() && server.Cluster.ChildPids().Count == 2, "two new workers and no old one", Deadline);

        // The idle channel's connection went with its worker (a GOAWAY, then the close); its next call opens a new one, to
        // a new worker. That call waits until the client has seen the close: .NET's HTTP/2 client fails a request that
        // took the connection from its pool just before the GOAWAY and reached it just after the close (the abort is
        // checked before the retryable shut-down), a client race the old worker's exit a moment ago would invite.
        await Poll.UntilAsync(() => idleChannel.State == ConnectivityState.Idle, Deadline, "the idle channel seeing its connection closed");
        Assert.Contains((await idle.WhoAsync(new WhoRequest())).Pid, current);
    }

    [Fact]
    public async Task A_rolling_reload_cuts_a_stream_longer_than_the_drain_timeout_with_an_error_the_client_sees()
    {
        await using var server = await GrpcCluster.StartAsync("RoundRobin", tls: false, new Dictionary<string, string> { ["Cluster__DrainTimeout"] = "00:00:04" });
        using var channel = server.OpenChannel();
        using var ticks = new WorkerInfo.WorkerInfoClient(channel).Ticks(new TicksRequest { Count = 300, IntervalMs = 100 });
        Assert.True(await ticks.ResponseStream.MoveNext(CancellationToken.None));

        server.Cluster.Signal(SIGHUP);
        var last = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await ticks.ResponseStream.MoveNext(CancellationToken.None))
            {
                last = ticks.ResponseStream.Current.Index;
            }
        });
        Assert.NotEqual(StatusCode.OK, error.StatusCode);
        Assert.InRange(last, 1, 298);
    }
}
