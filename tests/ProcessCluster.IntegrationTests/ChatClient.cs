using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// One client of the chat sample's hub (the real .NET SignalR client, default options but the transport): the worker
/// that holds it, and every message it received, by sender, in the order received.
/// </summary>
internal sealed class ChatClient(string name, HubConnection connection) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<long>> _received = [];

    public string Name { get; } = name;

    public HubConnection Connection { get; } = connection;

    private readonly List<string> _reconnectReasons = [];
    private int _reconnects;

    /// <summary>How many times the client's automatic reconnect brought it back.</summary>
    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>Why the connection was lost each time the client began to reconnect (the error's message, or "none").</summary>
    public IReadOnlyList<string> ReconnectReasons
    {
        get
        {
            lock (_lock)
            {
                return [.. _reconnectReasons];
            }
        }
    }

    /// <summary>The worker process that held the connection when last asked.</summary>
    public int WorkerPid { get; private set; }

    public static async Task<ChatClient> ConnectAsync(Uri baseAddress, HttpTransportType transport, string name, CancellationToken cancellationToken)
    {
        var connection = new HubConnectionBuilder().WithUrl(new Uri(baseAddress, "/chat"), transport).WithAutomaticReconnect().Build();
        var client = new ChatClient(name, connection);
        connection.On<string, long, string, int>("message", (sender, sequence, _, _) => client.Receive(sender, sequence));
        connection.Reconnected += _ => Task.FromResult(Interlocked.Increment(ref client._reconnects));
        connection.On("answer", (string question) => $"{name} answers {question}");
        connection.Reconnecting += error => Task.FromResult(client.Lost(error?.Message ?? "none"));
        await connection.StartAsync(cancellationToken);
        await client.AskWorkerAsync(cancellationToken);
        return client;
    }

    public async Task<int> AskWorkerAsync(CancellationToken cancellationToken) =>
        WorkerPid = await Connection.InvokeAsync<int>("Worker", cancellationToken);

    /// <summary>Asks <paramref name="other"/> through the hub (a client result) and returns its answer.</summary>
    public Task<string> AskAsync(ChatClient other, string question, CancellationToken cancellationToken) =>
        Connection.InvokeAsync<string>("Ask", other.Connection.ConnectionId, question, cancellationToken);

    public Task SendAsync(long sequence, CancellationToken cancellationToken) =>
        Connection.InvokeAsync("Send", Name, sequence, "hello", cancellationToken);

    /// <summary>The sequence numbers received from <paramref name="sender"/>, in the order they arrived.</summary>
    public IReadOnlyList<long> From(string sender)
    {
        lock (_lock)
        {
            return _received.TryGetValue(sender, out var sequences) ? [.. sequences] : [];
        }
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();

    private bool Lost(string reason)
    {
        lock (_lock)
        {
            _reconnectReasons.Add(reason);
        }

        return true;
    }

    private void Receive(string sender, long sequence)
    {
        lock (_lock)
        {
            if (!_received.TryGetValue(sender, out var sequences))
            {
                _received[sender] = sequences = [];
            }

            sequences.Add(sequence);
        }
    }
}
