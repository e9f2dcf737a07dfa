using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProcessCluster.Ipc;

namespace ProcessCluster.SignalR;

/// <summary>
/// A hub's connections across the cluster, with the semantics of SignalR's Redis backplane: each worker writes to its own
/// connections and publishes the same message, serialised once per hub protocol, to the other workers through the primary
/// (<see cref="BackplaneLink"/>); each applies what it receives to its own connections. Group membership of a connection
/// held by another worker is sent to that worker; it is applied before any later message from the same sender, since
/// everything one worker publishes reaches each other worker in order (unlike Redis, no acknowledgement is awaited).
/// Client results (<c>Clients.Client(id).InvokeAsync</c>) reach a connection of another worker as Redis's do: the
/// worker that holds it passes the client's answer back unread, and the worker that asked reads it as the type it awaits.
/// When the worker drains (a reload, a recycle, a scale-down), each of its clients is told to reconnect, whatever its
/// transport, and its automatic reconnect takes it to a live worker.
/// </summary>
internal sealed class ClusterHubLifetimeManager<THub> : HubLifetimeManager<THub>
    where THub : Hub
{
    private static readonly string HubName = typeof(THub).FullName ?? typeof(THub).Name;

    /// <summary>
    /// What a client of a draining worker is sent: SignalR's close that allows a reconnect (clients with automatic
    /// reconnect come back at once, through negotiate, to a worker that serves). The client closes the transport itself,
    /// so a WebSocket, an event stream and a long poll all end with the messages written before it delivered.
    /// </summary>
    private static readonly CloseMessage Reconnect = new("This worker is draining; reconnect.", allowReconnect: true);

    private readonly HubConnectionStore _connections = new();
    private readonly HubGroups _groups = new();
    private readonly HubGroups _users = new();
    private readonly IReadOnlyList<IHubProtocol> _protocols;
    private readonly BackplaneLink _link;
    private readonly ClientResults _results;
    private readonly ILogger _logger;

    /// <summary>Guards <see cref="_connections"/>'s changes against the drain's start, so that none slips between the two.</summary>
    private readonly Lock _drainLock = new();

    /// <summary>Set once the worker drains; completed when its last connection has left.</summary>
    private TaskCompletionSource? _drained;

    public ClusterHubLifetimeManager(
        BackplaneLink link, IHubProtocolResolver protocols, IOptions<HubOptions> globalOptions, IOptions<HubOptions<THub>> hubOptions, ILogger<ClusterHubLifetimeManager<THub>> logger)
    {
        _link = link;
        _results = new ClientResults(link.WorkerId);
        _logger = logger;
        // The protocols this hub's clients may speak: every message is serialised once in each, here, for every worker.
        var supported = hubOptions.Value.SupportedProtocols ?? globalOptions.Value.SupportedProtocols ?? [];
        _protocols = protocols.AllProtocols.Where(protocol => supported.Contains(protocol.Name, StringComparer.OrdinalIgnoreCase)).ToList();
        link.Attach(HubName, ReceiveAsync);
        link.OnDraining(DrainAsync);
    }

    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        bool draining;
        lock (_drainLock)
        {
            _connections.Add(connection);
            draining = _drained is not null;
        }

        if (connection.UserIdentifier is { } user)
        {
            _users.Add(user, connection);
        }

        // One that negotiated just before the drain began leaves as the others did.
        return draining ? TellToReconnectAsync(connection) : Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        lock (_drainLock)
        {
            _connections.Remove(connection);
            if (_connections.Count == 0)
            {
                _drained?.TrySetResult();
            }
        }

        _groups.RemoveEverywhere(connection);
        if (connection.UserIdentifier is { } user)
        {
            _users.Remove(user, connection);
        }

        // What other workers asked of it will not be answered: they are told at once instead of waiting out their tokens.
        foreach (var invocationId in _results.Disconnected(connection.ConnectionId))
        {
            PublishResult(connection, CompletionMessage.WithError(invocationId, $"Connection '{connection.ConnectionId}' disconnected."));
        }

        return Task.CompletedTask;
    }

    public override Task SendAllAsync(string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAllExceptAsync(methodName, args, [], cancellationToken);

    public override Task SendAllExceptAsync(string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        SendAsync(BackplaneKind.All, [], excludedConnectionIds, methodName, args, cancellationToken);

    public override Task SendConnectionAsync(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendConnectionsAsync([connectionId], methodName, args, cancellationToken);

    public override Task SendConnectionsAsync(IReadOnlyList<string> connectionIds, string methodName, object?[] args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connectionIds);
        // Those held here need no other worker; a message to them alone is not published.
        var elsewhere = connectionIds.Where(id => _connections[id] is null).ToList();
        var message = Serialize(methodName, args);
        if (elsewhere.Count > 0)
        {
            Publish(BackplaneKind.Connections, elsewhere, [], message);
        }

        return WriteAsync(connectionIds.Select(id => _connections[id]).OfType<HubConnectionContext>(), [], message.Local, cancellationToken);
    }

    public override Task SendGroupAsync(string groupName, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendGroupExceptAsync(groupName, methodName, args, [], cancellationToken);

    public override Task SendGroupsAsync(IReadOnlyList<string> groupNames, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(BackplaneKind.Groups, groupNames, [], methodName, args, cancellationToken);

    public override Task SendGroupExceptAsync(string groupName, string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupName);
        return SendAsync(BackplaneKind.Groups, [groupName], excludedConnectionIds, methodName, args, cancellationToken);
    }

    public override Task SendUserAsync(string userId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendUsersAsync([userId], methodName, args, cancellationToken);

    public override Task SendUsersAsync(IReadOnlyList<string> userIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        SendAsync(BackplaneKind.Users, userIds, [], methodName, args, cancellationToken);

    public override Task AddToGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        ChangeGroupAsync(BackplaneKind.AddToGroup, connectionId, groupName);

    public override Task RemoveFromGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        ChangeGroupAsync(BackplaneKind.RemoveFromGroup, connectionId, groupName);

    public override async Task<T> InvokeConnectionAsync<T>(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        var local = _connections[connectionId];
        if (local is null && !_link.Linked)
        {
            throw new IOException($"Connection '{connectionId}' does not exist.");
        }

        var (invocationId, result) = _results.Add<T>(connectionId);
        using var cancelled = cancellationToken.Register(() =>
        {
            _results.Fail(invocationId, new OperationCanceledException(cancellationToken));
            // As SignalR's own manager: the client may stop working on it. One on another worker answers in vain.
            _ = local?.WriteAsync(new CancelInvocationMessage(invocationId), CancellationToken.None).AsTask();
        });
        try
        {
            var invocation = new InvocationMessage(invocationId, methodName, args);
            if (local is not null)
            {
                await local.WriteAsync(invocation, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // A connection no worker holds is never answered: the caller's token ends the wait, as with Redis.
                _link.Publish(new BackplaneMessage(BackplaneKind.Invoke, HubName, [connectionId, invocationId], [], Serialize(invocation).Payloads));
            }
        }
        catch (Exception error)
        {
            _results.Fail(invocationId, error);
            throw;
        }

        return await result.ConfigureAwait(false);
    }

    public override Task SetConnectionResultAsync(string connectionId, CompletionMessage result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (!_results.TryComplete(connectionId, result)
            && result.InvocationId is { } invocationId
            && _results.TryTakeRelayed(invocationId, connectionId)
            && _connections[connectionId] is { } connection)
        {
            PublishResult(connection, result);
        }

        return Task.CompletedTask;
    }

    public override bool TryGetReturnType(string invocationId, [NotNullWhen(true)] out Type? type) => _results.TryGetReturnType(invocationId, out type);

    /// <summary>An answer of this worker's connection to another worker's invocation, as the client's protocol writes it.</summary>
    private void PublishResult(HubConnectionContext connection, CompletionMessage completion) =>
        _link.Publish(new BackplaneMessage(
            BackplaneKind.Result, HubName, [completion.InvocationId!], [], [new ProtocolPayload(connection.Protocol.Name, connection.Protocol.GetMessageBytes(completion))]));

    private Task ChangeGroupAsync(BackplaneKind kind, string connectionId, string groupName)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        ArgumentNullException.ThrowIfNull(groupName);
        if (_connections[connectionId] is { } connection)
        {
            Apply(kind, connection, groupName);
        }
        else
        {
            _link.Publish(new BackplaneMessage(kind, HubName, [connectionId, groupName], [], []));
        }

        return Task.CompletedTask;
    }

    private void Apply(BackplaneKind kind, HubConnectionContext connection, string groupName)
    {
        if (kind == BackplaneKind.AddToGroup)
        {
            _groups.Add(groupName, connection);
        }
        else
        {
            _groups.Remove(groupName, connection);
        }
    }

    private Task SendAsync(
        BackplaneKind kind, IReadOnlyList<string> targets, IReadOnlyList<string> excluded, string methodName, object?[] args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(excluded);
        var message = Serialize(methodName, args);
        Publish(kind, targets, excluded, message);
        return WriteAsync(Local(kind, targets), excluded, message.Local, cancellationToken);
    }

    private void Publish(BackplaneKind kind, IReadOnlyList<string> targets, IReadOnlyList<string> excluded, Serialized message)
    {
        if (_link.Linked && (kind == BackplaneKind.All || targets.Count > 0))
        {
            _link.Publish(new BackplaneMessage(kind, HubName, targets, excluded, message.Payloads));
        }
    }

    private IEnumerable<HubConnectionContext> Local(BackplaneKind kind, IReadOnlyList<string> targets) => kind switch
    {
        BackplaneKind.All => HubGroups.Snapshot(_connections),
        BackplaneKind.Connections => targets.Select(id => _connections[id]).OfType<HubConnectionContext>(),
        BackplaneKind.Groups => _groups.Members(targets),
        BackplaneKind.Users => _users.Members(targets),
        _ => [],
    };

    /// <summary>What another worker published: applied to this worker's connections.</summary>
    private Task ReceiveAsync(BackplaneMessage message)
    {
        switch (message.Kind)
        {
            case BackplaneKind.AddToGroup or BackplaneKind.RemoveFromGroup:
                if (_connections[message.Targets[0]] is { } connection)
                {
                    Apply(message.Kind, connection, message.Targets[1]);
                }

                return Task.CompletedTask;
            case BackplaneKind.Invoke:
                if (_connections[message.Targets[0]] is not { } invoked)
                {
                    return Task.CompletedTask;
                }

                _results.Relay(message.Targets[1], invoked.ConnectionId);
                return WriteAsync([invoked], [], Deserialized(message), CancellationToken.None);
            case BackplaneKind.Result:
                ReceiveResult(message.Targets[0], message.Payloads[0]);
                return Task.CompletedTask;
            default:
                return WriteAsync(Local(message.Kind, message.Targets), message.Excluded, Deserialized(message), CancellationToken.None);
        }
    }

    private static SerializedHubMessage Deserialized(BackplaneMessage message) =>
        new(message.Payloads.Select(payload => new SerializedMessage(payload.Protocol, payload.Bytes)).ToList());

    /// <summary>A client's answer relayed by the worker that holds it: read as the type awaited here, if it was asked here.</summary>
    private void ReceiveResult(string invocationId, ProtocolPayload payload)
    {
        if (!_results.TryGetReturnType(invocationId, out _))
        {
            return;
        }

        var protocol = _protocols.FirstOrDefault(protocol => protocol.Name == payload.Protocol);
        var bytes = new ReadOnlySequence<byte>(payload.Bytes);
        try
        {
            if (protocol is not null && protocol.TryParseMessage(ref bytes, new ResultBinder(_results), out var parsed) && parsed is CompletionMessage completion)
            {
                _results.TryComplete(completion);
                return;
            }

            _results.Fail(invocationId, new HubException($"The answer to invocation {invocationId} could not be read ({payload.Protocol})."));
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // The client answered something that is not the type awaited: the caller gets the error, as for a local client.
            _results.Fail(invocationId, new HubException($"The answer to invocation {invocationId} could not be read: {error.Message}", error));
        }
    }

    private Serialized Serialize(string methodName, object?[] args) => Serialize(new InvocationMessage(methodName, args));

    private Serialized Serialize(InvocationMessage invocation)
    {
        var serialized = _protocols.Select(protocol => new SerializedMessage(protocol.Name, protocol.GetMessageBytes(invocation))).ToList();
        return new Serialized(serialized.Select(message => new ProtocolPayload(message.ProtocolName, message.Serialized)).ToList(), new SerializedHubMessage(serialized));
    }

    private async Task WriteAsync(IEnumerable<HubConnectionContext> connections, IReadOnlyList<string> excluded, SerializedHubMessage message, CancellationToken cancellationToken)
    {
        var writes = connections
            .Where(connection => !excluded.Contains(connection.ConnectionId))
            .Select(connection => connection.WriteAsync(message, cancellationToken))
            .Where(write => !write.IsCompletedSuccessfully)
            .Select(write => write.AsTask())
            .ToList();
        try
        {
            await Task.WhenAll(writes).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // As SignalR's own manager: a connection that fails a write is going; the others have theirs.
            _logger.LogDebug(error, "A write to a connection of hub {Hub} failed", HubName);
        }
    }

    /// <summary>
    /// Tells every client to reconnect, then waits (until <paramref name="cancellationToken"/> ends) for them to close
    /// their transports, so that the message is out before the worker's drain closes the WebSockets left.
    /// </summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource drained;
        List<HubConnectionContext> connections;
        lock (_drainLock)
        {
            // Every connection is either in this snapshot or told by OnConnectedAsync, and the last to leave, whenever
            // it leaves, completes the drain.
            drained = _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            connections = HubGroups.Snapshot(_connections);
            if (connections.Count == 0)
            {
                drained.TrySetResult();
            }
        }

        await Task.WhenAll(connections.Select(TellToReconnectAsync)).ConfigureAwait(false);
        await drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task TellToReconnectAsync(HubConnectionContext connection)
    {
        try
        {
            await connection.WriteAsync(Reconnect).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // Already going; the host's shutdown ends what is left.
            _logger.LogDebug(error, "A connection of hub {Hub} could not be told to reconnect", HubName);
        }
    }

    /// <summary>A hub message serialised once per protocol: for the other workers, and for this one's connections.</summary>
    private sealed record Serialized(IReadOnlyList<ProtocolPayload> Payloads, SerializedHubMessage Local);
}
