using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace ProcessCluster.Tests;

/// <summary>
/// One SignalR connection as a hub lifetime manager sees it, with no transport: each message written to it is kept as
/// its method and first argument (and the invocation id of a client result), decoded from the JSON protocol's bytes. One that fails throws on
/// every write, as a connection that is going does.
/// </summary>
internal sealed class HubClient(string connectionId, bool fails)
    : HubConnectionContext(new DefaultConnectionContext(connectionId), new HubConnectionContextOptions(), NullLoggerFactory.Instance)
{
    public static readonly IHubProtocol Json = new JsonHubProtocol();

    private readonly Lock _lock = new();
    private readonly List<string> _received = [];

    public override IHubProtocol Protocol => Json;

    public static HubClient Of(string connectionId, string? user = null, bool fails = false) =>
        new(connectionId, fails) { UserIdentifier = user };

    /// <summary>"method(argument)" for each message received, in order.</summary>
    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>
    /// What the manager writes unserialised: SignalR's close, recorded as "close(reconnect)" or "close(no reconnect)",
    /// a client result's invocation, recorded as "method(argument)#id", or its cancellation, "cancel#id".
    /// </summary>
    public override ValueTask WriteAsync(HubMessage message, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            _received.Add(message switch
            {
                CloseMessage close => close.AllowReconnect ? "close(reconnect)" : "close(no reconnect)",
                InvocationMessage invocation => $"{invocation.Target}({invocation.Arguments[0]})#{invocation.InvocationId}",
                CancelInvocationMessage cancel => $"cancel#{cancel.InvocationId}",
                _ => throw new InvalidOperationException($"unexpected {message.GetType().Name}"),
            });
        }

        return ValueTask.CompletedTask;
    }

    public override ValueTask WriteAsync(SerializedHubMessage message, CancellationToken cancellationToken = default)
    {
        if (fails)
        {
            return ValueTask.FromException(new IOException($"{ConnectionId} is gone"));
        }

        var text = Encoding.UTF8.GetString(message.GetSerializedMessage(Json).Span).TrimEnd('\u001e');
        using var invocation = JsonDocument.Parse(text);
        var argument = invocation.RootElement.GetProperty("arguments")[0].GetString();
        var id = invocation.RootElement.TryGetProperty("invocationId", out var invocationId) ? $"#{invocationId.GetString()}" : "";
        lock (_lock)
        {
            _received.Add($"{invocation.RootElement.GetProperty("target").GetString()}({argument}){id}");
        }

        return ValueTask.CompletedTask;
    }
}
