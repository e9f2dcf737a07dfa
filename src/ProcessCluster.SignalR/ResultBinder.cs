using Microsoft.AspNetCore.SignalR;

namespace ProcessCluster.SignalR;

/// <summary>Reads a client's relayed answer: its result as the type the invocation awaits; nothing else is expected.</summary>
internal sealed class ResultBinder(ClientResults results) : IInvocationBinder
{
    public Type GetReturnType(string invocationId) =>
        results.TryGetReturnType(invocationId, out var type) ? type : throw new InvalidOperationException($"no invocation {invocationId} waits here");

    public IReadOnlyList<Type> GetParameterTypes(string methodName) => throw new InvalidOperationException("a relayed answer is a completion, not an invocation");

    public Type GetStreamItemType(string streamId) => throw new InvalidOperationException("a relayed answer is a completion, not a stream item");
}
