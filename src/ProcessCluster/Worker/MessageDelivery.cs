using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace ProcessCluster.Worker;

/// <summary>
/// Delivers the primary's messages to the app's handlers, one at a time, in the order they were sent. Messages that
/// arrive before the first handler is attached wait for it, so none is lost to start-up order.
/// </summary>
internal sealed class MessageDelivery(object sender, int workerId, ILogger logger)
{
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>(new UnboundedChannelOptions { SingleReader = true });
    private EventHandler<JsonElement>? _handlers;
    private int _started;

    public void Add(EventHandler<JsonElement>? handler)
    {
        _handlers += handler;
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = DeliverAsync();
        }
    }

    public void Remove(EventHandler<JsonElement>? handler) => _handlers -= handler;

    /// <summary>Called by the channel's reader only.</summary>
    public void Post(JsonElement message) => _messages.Writer.TryWrite(message);

    private async Task DeliverAsync()
    {
        await foreach (var message in _messages.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                _handlers?.Invoke(sender, message);
            }
            catch (Exception error)
            {
                logger.LogError(error, "A cluster message handler failed in worker {Id}", workerId);
            }
        }
    }
}
