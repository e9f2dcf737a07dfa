using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.SignalR;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The chat sample (a hub with AddClusterBackplane(), Cluster:Affinity=ConnectionToken) as a real cluster of two
/// workers, with real .NET SignalR clients (default options but the transport), the issue's "done when" at its full
/// size, over each transport in turn: 40 clients connect and stay on the worker that negotiated them, spread over both
/// workers; 100 broadcasts from clients on both workers reach every client in order per sender; a client result comes
/// back from a client of the other worker; a worker killed with SIGKILL costs its clients a reconnect within 5 s, and
/// nothing sent after it.
/// </summary>
public class SignalRClusterTests
{
    private const int ClientsPerTransport = 40;

    /// <summary>
    /// The issue's 100 broadcasts as 50 from one sender on each worker, sent at the same time: both workers' relays
    /// carry messages at once (each client interleaves two streams, each checked in order), and 100 in all keeps
    /// three transports within the suite's budget; 100 from each would double the sending for no further case.
    /// </summary>
    private const int MessagesPerSender = 50;

    /// <summary>Sent by each of two senders once every client of the killed worker is back.</summary>
    private const int MessagesAfterKill = 20;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static readonly Dictionary<string, string> Affinity = new() { ["Cluster__Affinity"] = "ConnectionToken" };

    /// <summary>One cluster for the three transports: a start costs more than a worker's restart (the suite's budget).</summary>
    [Fact]
    public async Task Forty_clients_of_each_transport_get_every_broadcast_in_order_and_a_client_result_across_workers_and_after_a_sigkill_reconnect_within_5_s_and_miss_nothing_later()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2, environment: Affinity, app: TestCluster.ChatAssembly);
        var killed = new List<int>();
        foreach (var transport in (HttpTransportType[])[HttpTransportType.WebSockets, HttpTransportType.ServerSentEvents, HttpTransportType.LongPolling])
        {
            // The worker killed for the previous transport is replaced first: these clients need two workers again.
            var pids = await cluster.WaitForReadyPidsAsync(ready => ready.Count == 2 && !ready.Intersect(killed).Any(), "two ready workers, none killed", Deadline);
            killed.Add(await BroadcastAndKillAsync(cluster, transport, pids));
        }
    }

    /// <summary>40 clients over <paramref name="transport"/>, the broadcasts, a client result, and a SIGKILL of one worker (returned).</summary>
    private static async Task<int> BroadcastAndKillAsync(TestCluster cluster, HttpTransportType transport, IReadOnlyList<int> pids)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        var clients = new List<ChatClient>();
        try
        {
            clients.AddRange(await ConnectAsync(cluster, transport, timeout.Token));

            // Spread over both workers; one sender on each, sending at the same time.
            Assert.Equal(pids.Order(), clients.Select(client => client.WorkerPid).Distinct().Order());
            var senders = pids.Select(pid => clients.First(client => client.WorkerPid == pid)).ToList();
            await Task.WhenAll(senders.Select(sender => SendAsync(sender, 1, MessagesPerSender, timeout.Token)));
            await ReceivedAsync(clients, senders, 1, MessagesPerSender);

            // A client result from a client of the other worker, through the backplane and back.
            Assert.Equal($"{senders[1].Name} answers why", await senders[0].AskAsync(senders[1], "why", timeout.Token));

            var victim = pids[0];
            var orphans = clients.Where(client => client.WorkerPid == victim).ToList();
            var survivor = clients.First(client => client.WorkerPid != victim);
            var reconnected = orphans.Select(client =>
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                client.Connection.Reconnected += _ => Task.FromResult(done.TrySetResult());
                return done.Task;
            }).ToList();

            var killedAt = DateTime.UtcNow;
            ProcessTree.Kill(victim);
            await Task.WhenAll(reconnected).WaitAsync(Deadline);
            var took = DateTime.UtcNow - killedAt;
            Assert.True(took <= TimeSpan.FromSeconds(5), $"{orphans.Count} {transport} clients of the killed worker took {took} to reconnect");
            Assert.All(clients, client => Assert.Equal(HubConnectionState.Connected, client.Connection.State));
            foreach (var orphan in orphans)
            {
                Assert.NotEqual(victim, await orphan.AskWorkerAsync(timeout.Token));
            }

            // From a client that was on the killed worker, and one that was not.
            senders = [orphans[0], survivor];
            await Task.WhenAll(senders.Select(sender => SendAsync(sender, MessagesPerSender + 1, MessagesAfterKill, timeout.Token)));
            await ReceivedAsync(clients, senders, MessagesPerSender + 1, MessagesAfterKill);
            return victim;
        }
        finally
        {
            await Task.WhenAll(clients.Select(client => client.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task A_rolling_reload_moves_every_client_to_a_new_worker_by_reconnecting_and_loses_no_broadcast_sent_after()
    {
        const int SIGHUP = 1;
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2, environment: Affinity, app: TestCluster.ChatAssembly);
        using var timeout = new CancellationTokenSource(Deadline);
        var clients = new List<ChatClient>();
        try
        {
            foreach (var transport in (HttpTransportType[])[HttpTransportType.WebSockets, HttpTransportType.ServerSentEvents, HttpTransportType.LongPolling])
            {
                clients.AddRange(await ConnectAsync(cluster, transport, timeout.Token, count: 2));
            }

            var old = await cluster.ReadyPidsAsync();
            Assert.Equal(old.Order(), clients.Select(client => client.WorkerPid).Distinct().Order());

            cluster.Signal(SIGHUP);
            var now = await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Intersect(old).Any(), "two new workers", Deadline);
            await Poll.UntilAsync(() => !cluster.ChildPids().Intersect(old).Any(), Deadline, "the old workers exited");

            // Each client was told to leave its draining worker and came back by itself to a new one.
            await Poll.UntilAsync(
                async () => (await Task.WhenAll(clients.Select(client => OnOneOfAsync(client, now, timeout.Token)))).All(on => on),
                Deadline,
                "every client on a new worker",
                () => string.Join("; ", clients.Select(client => $"{client.Name}: {client.Connection.State} on {client.WorkerPid}, {client.Reconnects} reconnects")));
            // Told by its worker with SignalR's close that allows a reconnect, whatever the transport: not cut off when
            // the worker exited, and over a WebSocket not by the drain's close frame 1001 "going away" (the client's
            // EndpointUnavailable), which the drain sends only after SignalR's step.
            Assert.All(clients, client =>
            {
                Assert.True(client.Reconnects >= 1, $"{client.Name} did not reconnect");
                Assert.All(client.ReconnectReasons, reason => Assert.True(
                    reason.Contains("This worker is draining; reconnect.", StringComparison.Ordinal), $"{client.Name} reconnected because: {reason}"));
            });
            Assert.Equal(0, cluster.CountLines("did not finish draining in time"));

            var senders = now.Select(pid => clients.First(client => client.WorkerPid == pid)).ToList();
            await Task.WhenAll(senders.Select(sender => SendAsync(sender, 1, 20, timeout.Token)));
            await ReceivedAsync(clients, senders, 1, 20);
        }
        finally
        {
            await Task.WhenAll(clients.Select(client => client.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Whether the client is connected to one of <paramref name="workers"/> (asking it, when it is connected).</summary>
    private static async Task<bool> OnOneOfAsync(ChatClient client, IReadOnlyList<int> workers, CancellationToken cancellationToken)
    {
        if (client.Connection.State != HubConnectionState.Connected)
        {
            return false;
        }

        try
        {
            return workers.Contains(await client.AskWorkerAsync(cancellationToken));
        }
        catch (Exception error) when (error is HubException or InvalidOperationException or IOException)
        {
            // Its connection went between the look and the question: not there yet.
            return false;
        }
    }

    private static async Task<IReadOnlyList<ChatClient>> ConnectAsync(TestCluster cluster, HttpTransportType transport, CancellationToken cancellationToken, int count = ClientsPerTransport)
    {
        var connecting = Enumerable.Range(0, count)
            .Select(i => ChatClient.ConnectAsync(cluster.BaseAddress, transport, $"{transport}-{i}", cancellationToken));
        return [.. await Task.WhenAll(connecting)];
    }

    private static async Task SendAsync(ChatClient sender, long first, int count, CancellationToken cancellationToken)
    {
        for (var sequence = first; sequence < first + count; sequence++)
        {
            await sender.SendAsync(sequence, cancellationToken);
        }
    }

    /// <summary>Every client got every message of each sender from <paramref name="first"/> on, in the order sent.</summary>
    private static async Task ReceivedAsync(IReadOnlyList<ChatClient> clients, IReadOnlyList<ChatClient> senders, long first, int count)
    {
        var expected = Enumerable.Range(0, count).Select(i => first + i).ToList();
        await Poll.UntilAsync(
            () => clients.All(client => senders.All(sender => client.From(sender.Name).Count(sequence => sequence >= first) >= count)),
            Deadline,
            "every broadcast received",
            () => string.Join("; ", clients.Select(client => $"{client.Name}@{client.WorkerPid}: {string.Join(",", senders.Select(sender => client.From(sender.Name).Count))}")));
        Assert.All(clients, client => Assert.All(senders, sender => Assert.Equal(expected, client.From(sender.Name).Where(sequence => sequence >= first))));
    }
}
