using System.Buffers;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ProcessCluster.SignalR;

namespace ProcessCluster.Tests;

/// <summary>
/// The cluster backplane's hub lifetime manager on the cases SignalR's Redis backplane is tested on (ASP.NET Core's
/// HubLifetimeManagerTestsBase and ScaleoutHubLifetimeManagerTests): two or three workers' managers, linked through an
/// in-memory relay, and connections that record what is written to them.
/// </summary>
public sealed class ClusterHubLifetimeManagerTests
{
    private readonly InMemoryBackplane _backplane = new();

    [Fact]
    public async Task All_reaches_every_connection_on_every_worker()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (a, b) = (await ConnectAsync(one, "a"), await ConnectAsync(two, "b"));

        await one.SendAllAsync("hello", ["world"]);

        await ReceivedAsync(a, "hello(world)");
        await ReceivedAsync(b, "hello(world)");
    }

    [Fact]
    public async Task All_does_not_reach_a_connection_that_disconnected()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (a, gone) = (await ConnectAsync(one, "a"), await ConnectAsync(two, "gone"));
        var stays = await ConnectAsync(two, "stays");
        await two.OnDisconnectedAsync(gone);

        await one.SendAllAsync("hello", ["world"]);

        await ReceivedAsync(a, "hello(world)");
        await ReceivedAsync(stays, "hello(world)");
        // Settled through a connection of the same worker: each worker applies what it receives in one line.
        await SettledAsync([one, two], [stays]);
        Assert.DoesNotContain("hello(world)", gone.Received);
    }

    [Fact]
    public async Task All_except_skips_the_excluded_connections_on_every_worker()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (a, excludedHere) = (await ConnectAsync(one, "a"), await ConnectAsync(one, "x1"));
        var (b, excludedThere) = (await ConnectAsync(two, "b"), await ConnectAsync(two, "x2"));

        await one.SendAllExceptAsync("hello", ["world"], ["x1", "x2"]);

        await ReceivedAsync(a, "hello(world)");
        await ReceivedAsync(b, "hello(world)");
        await SettledAsync([one, two], [excludedHere, excludedThere]);
        Assert.All([excludedHere, excludedThere], excluded => Assert.DoesNotContain("hello(world)", excluded.Received));
    }

    [Fact]
    public async Task A_connection_held_by_another_worker_gets_what_is_sent_to_it_and_one_held_here_costs_no_relay()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (here, there) = (await ConnectAsync(one, "here"), await ConnectAsync(two, "there"));

        await one.SendConnectionAsync("here", "hello", ["local"]);
        Assert.Equal(["hello(local)"], here.Received);
        Assert.Equal(0, _backplane.Relayed);

        await one.SendConnectionAsync("there", "hello", ["remote"]);
        await ReceivedAsync(there, "hello(remote)");

        await one.SendConnectionsAsync(["here", "there"], "hello", ["both"]);
        await ReceivedAsync(here, "hello(both)");
        await ReceivedAsync(there, "hello(both)");
    }

    [Fact]
    public async Task Sending_to_a_connection_that_no_worker_holds_does_nothing()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var b = await ConnectAsync(two, "b");

        await one.SendConnectionAsync("nobody", "hello", ["world"]);
        await one.AddToGroupAsync("nobody", "group");
        await one.RemoveFromGroupAsync("nobody", "group");

        await SettledAsync([one, two], [b]);
        Assert.DoesNotContain("hello(world)", b.Received);
    }

    [Fact]
    public async Task A_group_reaches_its_members_on_another_worker_but_the_excluded()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (member, excluded) = (await ConnectAsync(one, "member"), await ConnectAsync(one, "excluded"));
        var outsider = await ConnectAsync(one, "outsider");
        await one.AddToGroupAsync("member", "group");
        await one.AddToGroupAsync("excluded", "group");

        await two.SendGroupAsync("group", "hello", ["all"]);
        await two.SendGroupExceptAsync("group", "hello", ["but"], ["excluded"]);

        await ReceivedAsync(member, "hello(all)", "hello(but)");
        await SettledAsync([one, two], [excluded, outsider]);
        Assert.Equal(["hello(all)"], Messages(excluded));
        Assert.Empty(Messages(outsider));
    }

    [Fact]
    public async Task Group_membership_changed_from_another_worker_is_applied_before_what_that_worker_sends_next()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var member = await ConnectAsync(one, "member");

        await two.AddToGroupAsync("member", "group");
        await two.SendGroupAsync("group", "hello", ["in"]);
        await two.RemoveFromGroupAsync("member", "group");
        await two.SendGroupAsync("group", "hello", ["out"]);

        await SettledAsync([one, two], [member]);
        Assert.Equal(["hello(in)"], Messages(member));
    }

    [Fact]
    public async Task Adding_a_connection_twice_to_a_group_from_here_or_from_another_worker_delivers_once()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var member = await ConnectAsync(one, "member");
        await one.AddToGroupAsync("member", "group");
        await one.AddToGroupAsync("member", "group");
        await two.AddToGroupAsync("member", "group");

        await two.SendGroupAsync("group", "hello", ["once"]);

        await SettledAsync([one, two], [member]);
        Assert.Equal(["hello(once)"], Messages(member));
    }

    [Fact]
    public async Task Removing_a_connection_from_a_group_it_is_not_in_does_nothing_here_or_on_another_worker()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (member, other) = (await ConnectAsync(one, "member"), await ConnectAsync(one, "other"));
        await one.AddToGroupAsync("member", "group");

        await one.RemoveFromGroupAsync("other", "group");
        await two.RemoveFromGroupAsync("other", "group");
        await two.RemoveFromGroupAsync("member", "another group");
        await two.SendGroupAsync("group", "hello", ["still"]);

        await ReceivedAsync(member, "hello(still)");
        await SettledAsync([one, two], [other]);
        Assert.Empty(Messages(other));
    }

    [Fact]
    public async Task A_connection_that_disconnects_leaves_its_groups()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (gone, stays) = (await ConnectAsync(one, "gone"), await ConnectAsync(one, "stays"));
        await two.AddToGroupAsync("gone", "group");
        await two.AddToGroupAsync("stays", "group");
        await SettledAsync([one, two], [gone, stays]);

        await one.OnDisconnectedAsync(gone);
        // The same id back (a client that reconnects with it) starts in no group.
        var back = await ConnectAsync(one, "gone");
        await two.SendGroupAsync("group", "hello", ["members"]);

        await ReceivedAsync(stays, "hello(members)");
        await SettledAsync([one, two], [back]);
        Assert.Empty(Messages(back));
    }

    [Fact]
    public async Task Groups_reach_each_member_once_however_many_of_the_groups_it_is_in()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (both, first) = (await ConnectAsync(one, "both"), await ConnectAsync(one, "first"));
        await one.AddToGroupAsync("both", "g1");
        await one.AddToGroupAsync("both", "g2");
        await one.AddToGroupAsync("first", "g1");

        await two.SendGroupsAsync(["g1", "g2"], "hello", ["groups"]);

        await ReceivedAsync(first, "hello(groups)");
        await SettledAsync([one, two], [both]);
        Assert.Equal(["hello(groups)"], Messages(both));
    }

    [Fact]
    public async Task A_user_gets_messages_on_each_of_its_connections_on_every_worker_and_keeps_them_when_one_disconnects()
    {
        var (one, two, three) = (NewWorker(), NewWorker(), NewWorker());
        var (first, second) = (await ConnectAsync(one, "c1", user: "ann"), await ConnectAsync(two, "c2", user: "ann"));
        var bob = await ConnectAsync(two, "c3", user: "bob");
        var stranger = await ConnectAsync(one, "c4", user: "eve");

        await three.SendUserAsync("ann", "hello", ["ann"]);
        await ReceivedAsync(first, "hello(ann)");
        await ReceivedAsync(second, "hello(ann)");

        await one.OnDisconnectedAsync(first);
        await three.SendUsersAsync(["ann", "bob"], "hello", ["both"]);
        await ReceivedAsync(second, "hello(both)");
        await ReceivedAsync(bob, "hello(both)");

        await SettledAsync([one, two, three], [stranger]);
        Assert.Equal(["hello(ann)"], Messages(first));
        Assert.Empty(Messages(stranger));
    }

    [Fact]
    public async Task A_connection_whose_write_fails_neither_throws_nor_keeps_the_others_of_its_group_from_the_message()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var failing = HubClient.Of("failing", fails: true);
        await one.OnConnectedAsync(failing);
        var member = await ConnectAsync(one, "member");
        await one.AddToGroupAsync("failing", "group");
        await one.AddToGroupAsync("member", "group");

        // Written here, and relayed from another worker.
        await one.SendGroupAsync("group", "hello", ["here"]);
        await two.SendGroupAsync("group", "hello", ["there"]);
        await two.SendConnectionAsync("failing", "hello", ["alone"]);

        await ReceivedAsync(member, "hello(here)", "hello(there)");
    }

    [Fact]
    public async Task A_draining_worker_tells_each_of_its_clients_to_reconnect_and_one_that_connects_after_too_and_the_others_stay()
    {
        var (channel, stays) = (_backplane.NewWorker(), NewWorker());
        var draining = NewWorker(channel);
        var (a, b) = (await ConnectAsync(draining, "a"), await ConnectAsync(draining, "b"));
        var other = await ConnectAsync(stays, "other");

        _ = InMemoryBackplane.Drain(channel);
        var late = await ConnectAsync(draining, "late");

        await Eventually.UntilAsync(() => new[] { a, b, late }.All(client => client.Received.SequenceEqual(["close(reconnect)"])), "each client of the draining worker told to reconnect");
        await stays.SendAllAsync("hello", ["still"]);
        Assert.Equal(["hello(still)"], other.Received);
    }

    [Fact]
    public async Task A_drain_ends_when_the_last_client_has_left_one_that_connected_during_it_included()
    {
        var channel = _backplane.NewWorker();
        var draining = NewWorker(channel);
        var (a, b) = (await ConnectAsync(draining, "a"), await ConnectAsync(draining, "b"));

        var drained = InMemoryBackplane.Drain(channel, TimeSpan.FromSeconds(30));
        var late = await ConnectAsync(draining, "late");
        await draining.OnDisconnectedAsync(a);
        await draining.OnDisconnectedAsync(b);
        await Task.Delay(TimeSpan.FromMilliseconds(50));
        Assert.False(drained.IsCompleted, "the drain ended with a client still connected");

        await draining.OnDisconnectedAsync(late);
        await drained.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_drain_ends_at_once_when_no_client_is_connected_or_the_last_leaves_as_it_begins()
    {
        var channel = _backplane.NewWorker();
        var draining = NewWorker(channel);
        var drained = InMemoryBackplane.Drain(channel, TimeSpan.FromSeconds(30));
        await drained.WaitAsync(TimeSpan.FromSeconds(5));

        // A client that leaves as the drain starts, on another thread, a little earlier or later each time: whichever
        // comes first (it was told to reconnect, or not), the drain ends.
        const int Tries = 300;
        var told = 0;
        for (var i = 0; i < Tries; i++)
        {
            var racing = _backplane.NewWorker();
            var manager = NewWorker(racing);
            var client = await ConnectAsync(manager, $"client{i}");
            var skew = Random.Shared.Next(-100, 100);
            using var start = new Barrier(2);
            var leaving = Task.Run(() =>
            {
                start.SignalAndWait();
                SpinFor(skew);
                return manager.OnDisconnectedAsync(client);
            });
            start.SignalAndWait();
            SpinFor(-skew);
            var drain = InMemoryBackplane.Drain(racing, TimeSpan.FromSeconds(30));
            await leaving;
            await drain.WaitAsync(TimeSpan.FromSeconds(5));
            told += client.Received.Count;
        }

        Assert.True(told is > 0 and < Tries, $"the client left after the drain began in {told} of {Tries} tries: one of the orders was not tried");
    }

    /// <summary>Waits <paramref name="microseconds"/> without giving up the thread (none when not above 0).</summary>
    private static void SpinFor(int microseconds)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        SpinWait.SpinUntil(() => clock.Elapsed.TotalMicroseconds >= microseconds);
    }

    [Fact]
    public async Task A_client_result_comes_back_as_the_type_asked_from_a_connection_here_or_on_another_worker_and_an_error_as_a_hub_exception()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (here, there) = (await ConnectAsync(one, "here"), await ConnectAsync(two, "there"));

        var local = one.InvokeConnectionAsync<int>("here", "ask", ["local"], CancellationToken.None);
        var localId = await InvokedAsync(here, "ask(local)");
        Assert.True(one.TryGetReturnType(localId, out var localType));
        Assert.Equal(typeof(int), localType);
        await one.SetConnectionResultAsync("here", CompletionMessage.WithResult(localId, 42));
        Assert.Equal(42, await local);

        // The worker that holds the connection reads the answer raw and passes it on; the asker reads it as an int.
        var remote = one.InvokeConnectionAsync<int>("there", "ask", ["remote"], CancellationToken.None);
        var remoteId = await InvokedAsync(there, "ask(remote)");
        Assert.True(two.TryGetReturnType(remoteId, out var rawType));
        Assert.Equal(typeof(RawResult), rawType);
        await two.SetConnectionResultAsync("there", CompletionMessage.WithResult(remoteId, new RawResult(new ReadOnlySequence<byte>("43"u8.ToArray()))));
        Assert.Equal(43, await remote.WaitAsync(Eventually.Deadline));

        var failing = one.InvokeConnectionAsync<int>("there", "ask", ["error"], CancellationToken.None);
        var failingId = await InvokedAsync(there, "ask(error)");
        await two.SetConnectionResultAsync("there", CompletionMessage.WithError(failingId, "no answer"));
        var error = await Assert.ThrowsAsync<HubException>(() => failing.WaitAsync(Eventually.Deadline));
        Assert.Equal("no answer", error.Message);
    }

    [Fact]
    public async Task A_client_result_is_taken_only_from_the_connection_asked_and_fails_when_that_connection_disconnects_here_or_elsewhere()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (here, there) = (await ConnectAsync(one, "here"), await ConnectAsync(two, "there"));
        var intruder = await ConnectAsync(two, "intruder");

        var remote = one.InvokeConnectionAsync<int>("there", "ask", ["remote"], CancellationToken.None);
        var remoteId = await InvokedAsync(there, "ask(remote)");
        await two.SetConnectionResultAsync("intruder", CompletionMessage.WithResult(remoteId, new RawResult(new ReadOnlySequence<byte>("1"u8.ToArray()))));
        await one.SetConnectionResultAsync("intruder", CompletionMessage.WithResult(remoteId, 1));
        await SettledAsync([one, two], [intruder]);
        Assert.False(remote.IsCompleted);

        await two.OnDisconnectedAsync(there);
        var gone = await Assert.ThrowsAsync<HubException>(() => remote.WaitAsync(Eventually.Deadline));
        Assert.Contains("Connection 'there' disconnected.", gone.Message);

        var local = one.InvokeConnectionAsync<int>("here", "ask", ["local"], CancellationToken.None);
        await InvokedAsync(here, "ask(local)");
        await one.OnDisconnectedAsync(here);
        await Assert.ThrowsAsync<IOException>(() => local.WaitAsync(Eventually.Deadline));
    }

    [Fact]
    public async Task A_client_result_cancelled_by_the_caller_ends_its_wait_and_tells_a_connection_held_here()
    {
        var (one, two) = (NewWorker(), NewWorker());
        var (here, there) = (await ConnectAsync(one, "here"), await ConnectAsync(two, "there"));

        foreach (var (client, id) in new[] { (here, "here"), (there, "there") })
        {
            using var cancel = new CancellationTokenSource();
            var result = one.InvokeConnectionAsync<int>(id, "ask", [id], cancel.Token);
            var invocationId = await InvokedAsync(client, $"ask({id})");
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => result.WaitAsync(Eventually.Deadline));
            Assert.False(one.TryGetReturnType(invocationId, out _));
        }

        await Eventually.UntilAsync(() => here.Received.Any(message => message.StartsWith("cancel#", StringComparison.Ordinal)), "the cancellation sent to the connection held here");
    }

    /// <summary>The invocation id of the client result <paramref name="invocation"/> the connection was asked.</summary>
    private static async Task<string> InvokedAsync(HubClient client, string invocation)
    {
        string? id = null;
        await Eventually.UntilAsync(
            () => (id = client.Received.Where(message => message.StartsWith(invocation + "#", StringComparison.Ordinal)).Select(message => message[(invocation.Length + 1)..]).FirstOrDefault()) is not null,
            () => $"{client.ConnectionId} asked {invocation}; it has {string.Join(", ", client.Received)}");
        return id!;
    }

    /// <summary>A manager of the test hub on a worker of its own, linked to the others.</summary>
    private ClusterHubLifetimeManager<TestHub> NewWorker(IBackplaneChannel? channel = null) => new(
        new BackplaneLink(channel ?? _backplane.NewWorker()),
        new JsonOnly(),
        Options.Create(new HubOptions { SupportedProtocols = [HubClient.Json.Name] }),
        Options.Create(new HubOptions<TestHub>()),
        NullLogger<ClusterHubLifetimeManager<TestHub>>.Instance);

    private static async Task<HubClient> ConnectAsync(HubLifetimeManager<TestHub> manager, string connectionId, string? user = null)
    {
        var client = HubClient.Of(connectionId, user);
        await manager.OnConnectedAsync(client);
        return client;
    }

    /// <summary>What a connection received, but the settling marks.</summary>
    private static List<string> Messages(HubClient client) => client.Received.Where(message => !message.StartsWith("settled(", StringComparison.Ordinal)).ToList();

    private static Task ReceivedAsync(HubClient client, params string[] expected) =>
        Eventually.UntilAsync(() => expected.All(Messages(client).Contains), () => $"{client.ConnectionId} got {string.Join(", ", expected)}; it has {string.Join(", ", client.Received)}");

    /// <summary>
    /// Everything each manager sent so far has been applied everywhere: each sends a mark to the connections named
    /// after it, and each worker relays one worker's messages in the order sent.
    /// </summary>
    private static async Task SettledAsync(IReadOnlyList<HubLifetimeManager<TestHub>> managers, IReadOnlyList<HubClient> clients)
    {
        var ids = clients.Select(client => client.ConnectionId).ToList();
        for (var i = 0; i < managers.Count; i++)
        {
            await managers[i].SendConnectionsAsync(ids, "settled", [i.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        foreach (var client in clients)
        {
            await Eventually.UntilAsync(
                () => Enumerable.Range(0, managers.Count).All(i => client.Received.Contains($"settled({i})")),
                () => $"{client.ConnectionId} settled; it has {string.Join(", ", client.Received)}");
        }
    }

    public sealed class TestHub : Hub;

    private sealed class JsonOnly : IHubProtocolResolver
    {
        public IReadOnlyList<IHubProtocol> AllProtocols { get; } = [HubClient.Json];

        public IHubProtocol? GetProtocol(string protocolName, IReadOnlyList<string>? supportedProtocols) =>
            protocolName == HubClient.Json.Name ? HubClient.Json : null;
    }
}
