using Microsoft.AspNetCore.SignalR;

namespace Chat;

/// <summary>
/// Everyone's messages to everyone, whichever worker holds them; each message says which worker process relayed it
/// and carries its sender's sequence number, so a client can check it got every message of each sender in order.
/// </summary>
public sealed class ChatHub : Hub
{
    public Task Send(string user, long sequence, string text) =>
        Clients.All.SendAsync("message", user, sequence, text, Environment.ProcessId);

    public Task SendToGroup(string group, string user, long sequence, string text) =>
        Clients.Group(group).SendAsync("message", user, sequence, text, Environment.ProcessId);

    public Task Join(string group) => Groups.AddToGroupAsync(Context.ConnectionId, group);

    /// <summary>Asks another client a question and returns its answer (a client result), whichever worker holds it.</summary>
    public async Task<string> Ask(string connectionId, string question)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await Clients.Client(connectionId).InvokeAsync<string>("answer", question, timeout.Token);
    }

    /// <summary>The worker process that holds this connection.</summary>
    public int Worker() => Environment.ProcessId;
}
