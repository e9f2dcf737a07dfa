using Microsoft.Extensions.Logging;

namespace ProcessCluster.Worker;

/// <summary>
/// The primary's request that this worker stop, kept as a state and not only announced: it may arrive before the app
/// has attached a handler (between the handshake and the host's start), so a handler attached afterwards runs at once.
/// Each handler runs exactly once, on the thread pool (never on the channel's reader, nor in the caller of
/// <see cref="Add"/>).
/// </summary>
internal sealed class DisconnectRequest(object sender, int workerId, ILogger logger)
{
    private readonly Lock _lock = new();
    private EventHandler? _handlers;
    private volatile bool _requested;

    public bool IsRequested => _requested;

    public void Add(EventHandler? handler)
    {
        lock (_lock)
        {
            if (!_requested)
            {
                _handlers += handler;
                return;
            }
        }

        Run(handler);
    }

    public void Remove(EventHandler? handler)
    {
        lock (_lock)
        {
            _handlers -= handler;
        }
    }

    /// <summary>Records the request and runs the handlers attached so far; a repeated request changes nothing.</summary>
    public void Request()
    {
        EventHandler? handlers;
        lock (_lock)
        {
            if (_requested)
            {
                return;
            }

            _requested = true;
            handlers = _handlers;
            _handlers = null;
        }

        Run(handlers);
    }

    private void Run(EventHandler? handlers)
    {
        if (handlers is null)
        {
            return;
        }

        _ = Task.Run(() =>
        {
            try
            {
                handlers(sender, EventArgs.Empty);
            }
            catch (Exception error)
            {
                logger.LogError(error, "A disconnect handler failed in worker {Id}", workerId);
            }
        });
    }
}
