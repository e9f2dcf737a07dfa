using System.Collections.Concurrent;
using System.Threading.Channels;
using ProcessCluster.Ipc;
using ProcessCluster.Worker;

namespace ProcessCluster.SignalR;

/// <summary>
/// This process's link to the other workers' hubs, through the primary: one per process, shared by every hub. It
/// subscribes once the first hub attaches and hands each message that arrives to the hub it names, off the channel's reader thread (a slow client never holds up connections handed to this worker), 
/// one at a time, in the order they came. Outside a cluster it links nothing.
/// </summary>
internal sealed class BackplaneLink
{
    /// <summary>Messages that may wait for this worker's hubs before the channel's reader waits (and the primary's outbox fills).</summary>
    private const int InboxCapacity = 4096;

    private readonly IBackplaneChannel? _channel;
    private readonly ConcurrentDictionary<string, Func<BackplaneMessage, Task>> _hubs = new();
    private readonly Channel<BackplaneMessage> _inbox = Channel.CreateBounded<BackplaneMessage>(new BoundedChannelOptions(InboxCapacity) { SingleReader = true });
    private int _subscribed;

    /// <summary>The worker as the host registers it (UseCluster() in a worker); none in a primary or a plain process.</summary>
    public BackplaneLink(IServiceProvider services)
        : this(services.GetService(typeof(ClusterWorker)) is ClusterWorker worker ? new WorkerBackplaneChannel(worker) : null)
    {
    }

    internal BackplaneLink(IBackplaneChannel? channel) => _channel = channel;

    /// <summary>This process's worker id; 0 outside a cluster.</summary>
    public int WorkerId => _channel?.WorkerId ?? 0;

    /// <summary>Whether there are other workers to reach.</summary>
    public bool Linked => _channel is not null;

    /// <summary>The hub named <paramref name="hub"/> takes the messages sent to it from now on.</summary>
    public void Attach(string hub, Func<BackplaneMessage, Task> receive)
    {
        if (_channel is null)
        {
            return;
        }

        _hubs[hub] = receive;
        if (Interlocked.Exchange(ref _subscribed, 1) == 0)
        {
            _ = Task.Run(DeliverAllAsync);
            _channel.Handler = message => _inbox.Writer.WriteAsync(message).AsTask().GetAwaiter().GetResult();
            _channel.Send(BackplaneMessage.Subscription);
        }
    }

    /// <summary>Runs <paramref name="drain"/> once when this worker drains, before its remaining WebSockets are closed (never outside a cluster).</summary>
    public void OnDraining(Func<CancellationToken, Task> drain) => _channel?.OnDraining(drain);

    /// <summary>Sends a message to the other workers (nothing outside a cluster).</summary>
    public void Publish(BackplaneMessage message) => _channel?.Send(message);

    private async Task DeliverAllAsync()
    {
        await foreach (var message in _inbox.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (_hubs.TryGetValue(message.Hub, out var receive))
            {
                // Awaited, so that the next message is applied after this one: the order each worker sent them in.
                await receive(message).ConfigureAwait(false);
            }
        }
    }
}
