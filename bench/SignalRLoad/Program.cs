// SignalRLoad URL CLIENTS TRANSPORT SECONDS: CLIENTS clients of the chat hub at URL (samples/Chat), two of which
// broadcast back to back for SECONDS; every client times each message from send to receipt (one clock: this process).
// Prints one JSON line: broadcasts/s fully delivered, deliveries/s, fan-out latency p50 and p99 (ms), workers reached,
// messages lost, and deliveries out of order (a sequence number not above the last one the client had from that sender).
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

if (args.Length != 4 || !Enum.TryParse<HttpTransportType>(args[2], out var transport))
{
    Console.Error.WriteLine("usage: SignalRLoad URL CLIENTS WebSockets|ServerSentEvents|LongPolling SECONDS");
    return 2;
}

var url = new Uri(new Uri(args[0]), "/chat");
var count = int.Parse(args[1]);
var seconds = int.Parse(args[3]);
var latencies = new List<double>[count];
// Per client, the last sequence number received from each sender; a client's handler runs one message at a time.
var lastFrom = new Dictionary<string, long>[count];
var outOfOrder = 0;
var connections = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
{
    latencies[i] = [];
    lastFrom[i] = [];
    var connection = new HubConnectionBuilder().WithUrl(url, transport).Build();
    connection.On<string, long, string, int>("message", (sender, sequence, sent, _) =>
    {
        var elapsed = Stopwatch.GetElapsedTime(long.Parse(sent)).TotalMilliseconds;
        if (sequence <= lastFrom[i].GetValueOrDefault(sender))
        {
            Interlocked.Increment(ref outOfOrder);
        }

        lastFrom[i][sender] = sequence;
        lock (latencies[i])
        {
            latencies[i].Add(elapsed);
        }
    });
    await connection.StartAsync();
    return connection;
}));
var workers = await Task.WhenAll(connections.Select(connection => connection.InvokeAsync<int>("Worker")));

// Senders on different workers where there are two.
var senders = new[] { 0, Array.FindIndex(workers, pid => pid != workers[0]) is var other and >= 0 ? other : 1 };
var stop = Stopwatch.StartNew();
var sent = await Task.WhenAll(senders.Select(async sender =>
{
    long sequence = 0;
    while (stop.Elapsed.TotalSeconds < seconds)
    {
        await connections[sender].InvokeAsync("Send", $"s{sender}", ++sequence, Stopwatch.GetTimestamp().ToString());
    }

    return sequence;
}));
var broadcasts = sent.Sum();
var elapsedSeconds = stop.Elapsed.TotalSeconds;
var deadline = Stopwatch.StartNew();
while (latencies.Sum(list => { lock (list) { return list.Count; } }) < broadcasts * count && deadline.Elapsed < TimeSpan.FromSeconds(30))
{
    await Task.Delay(50);
}

var all = latencies.SelectMany(list => list).Order().ToList();
await Task.WhenAll(connections.Select(connection => connection.DisposeAsync().AsTask()));
Console.WriteLine(JsonSerializer.Serialize(new
{
    transport = transport.ToString(),
    clients = count,
    workers = workers.Distinct().Count(),
    broadcasts,
    broadcastsPerSecond = Math.Round(broadcasts / elapsedSeconds),
    deliveriesPerSecond = Math.Round(all.Count / elapsedSeconds),
    lost = broadcasts * count - all.Count,
    outOfOrder = Volatile.Read(ref outOfOrder),
    p50Ms = Math.Round(all[all.Count / 2], 2),
    p99Ms = Math.Round(all[(int)(all.Count * 0.99)], 2),
}));
return 0;
