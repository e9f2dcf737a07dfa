using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace ProcessCluster.SignalR;

/// <summary>
/// The client results this worker waits for, by invocation id (each id names the worker that asked, so they are unique
/// across the cluster), and the ones it relays for another worker, whose answers it passes on as the client wrote them
/// (<see cref="RawResult"/>).
/// </summary>
internal sealed class ClientResults(int workerId)
{
    private readonly ConcurrentDictionary<string, Pending> _pending = new();
    private readonly ConcurrentDictionary<string, string> _relayed = new();
    private long _next;

    /// <summary>A new invocation to <paramref name="connectionId"/> whose answer is a <typeparamref name="T"/>.</summary>
    public (string InvocationId, Task<T> Result) Add<T>(string connectionId)
    {
        var invocationId = $"w{workerId}.{Interlocked.Increment(ref _next)}";
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[invocationId] = new Pending(connectionId, typeof(T), completion =>
        {
            if (completion.HasResult)
            {
                result.TrySetResult((T)completion.Result!);
            }
            else
            {
                result.TrySetException(new HubException(completion.Error ?? "The client returned no result."));
            }
        }, error => result.TrySetException(error));
        return (invocationId, result.Task);
    }

    /// <summary>Completes the invocation the answer is for; false when this worker did not ask it.</summary>
    public bool TryComplete(CompletionMessage completion) =>
        completion.InvocationId is { } id && _pending.TryGetValue(id, out var pending) && TryComplete(pending.ConnectionId, completion);

    /// <summary>Completes the invocation the answer of <paramref name="connectionId"/> is for; false when this worker did not ask it of that connection.</summary>
    public bool TryComplete(string connectionId, CompletionMessage completion)
    {
        // Only the connection asked may answer: another client that guesses the id answers nothing.
        if (completion.InvocationId is not { } id
            || !_pending.TryGetValue(id, out var pending)
            || pending.ConnectionId != connectionId
            || !_pending.TryRemove(new KeyValuePair<string, Pending>(id, pending)))
        {
            return false;
        }

        pending.Complete(completion);
        return true;
    }

    /// <summary>Fails the invocation, if it still waits (cancelled, or not deliverable).</summary>
    public void Fail(string invocationId, Exception error)
    {
        if (_pending.TryRemove(invocationId, out var pending))
        {
            pending.Fail(error);
        }
    }

    /// <summary>This worker's connection <paramref name="connectionId"/> is asked on another worker's behalf.</summary>
    public void Relay(string invocationId, string connectionId) => _relayed[invocationId] = connectionId;

    /// <summary>Takes the relayed invocation the answer of <paramref name="connectionId"/> is for.</summary>
    public bool TryTakeRelayed(string invocationId, string connectionId) =>
        _relayed.TryRemove(new KeyValuePair<string, string>(invocationId, connectionId));

    /// <summary>The type a client's answer is read as: the asker's type here, raw for another worker.</summary>
    public bool TryGetReturnType(string invocationId, [NotNullWhen(true)] out Type? type)
    {
        type = _pending.TryGetValue(invocationId, out var pending) ? pending.Type
            : _relayed.ContainsKey(invocationId) ? typeof(RawResult)
            : null;
        return type is not null;
    }

    /// <summary>The connection is gone: what this worker asked of it fails, and the ids of what others asked are returned.</summary>
    public IReadOnlyList<string> Disconnected(string connectionId)
    {
        foreach (var (id, pending) in _pending.Where(pair => pair.Value.ConnectionId == connectionId))
        {
            Fail(id, new IOException($"Connection '{connectionId}' disconnected."));
        }

        return _relayed.Where(pair => pair.Value == connectionId && _relayed.TryRemove(pair)).Select(pair => pair.Key).ToList();
    }

    private sealed record Pending(string ConnectionId, Type Type, Action<CompletionMessage> Complete, Action<Exception> Fail);
}
