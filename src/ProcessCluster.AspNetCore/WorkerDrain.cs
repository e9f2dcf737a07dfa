using Microsoft.AspNetCore.Connections;
using ProcessCluster.AspNetCore.WebSockets;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The worker's half of a drain the primary asks for (reload, recycling, stop). Kestrel's own graceful shutdown closes
/// idle keep-alive connections at once, racing any request a client is sending on them at that moment: the request is
/// lost. So first the worker stops accepting and answers every request with <c>Connection: close</c>, letting each
/// client close after a response; once no connection is left (or after <see cref="CloseWindowFor"/>), Kestrel shuts down.
/// First the worker's drain steps run, in order (SignalR tells its clients to reconnect and waits for them to leave),
/// within half the close window; then the WebSockets left get a close frame 1001 "going away" after their current
/// message, so a client is told once, by its own protocol when it has one. Kestrel's shutdown waits for their close
/// handshakes, within the rest of the drain timeout.
/// </summary>
internal sealed class WorkerDrain(ClusterOptions options, ClusterWorker worker, WebSocketConnections webSockets)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);
    private readonly List<IConnectionListener> _listeners = [];
    private volatile bool _closingConnections;

    /// <summary>How long clients get to come back for a last response; the rest of the drain timeout is Kestrel's.</summary>
    public static TimeSpan CloseWindowFor(ClusterOptions options) => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, options.DrainTimeout.Ticks / 4));

    /// <summary>True once responses should carry <c>Connection: close</c>.</summary>
    public bool ClosingConnections => _closingConnections;

    public void AddListener(IConnectionListener listener)
    {
        lock (_listeners)
        {
            _listeners.Add(listener);
        }
    }

    /// <summary>Counts the connection until it closes.</summary>
    public ConnectionContext? Track(ConnectionContext? connection)
    {
        if (connection is not null)
        {
            worker.Load.ConnectionOpened();
            connection.ConnectionClosed.Register(static state => ((LoadMeter)state!).ConnectionClosed(), worker.Load);
        }

        return connection;
    }

    /// <summary>Stops accepting and closes keep-alive connections after their next response; returns when none is left or the window ends.</summary>
    public async Task CloseConnectionsAsync(CancellationToken cancellationToken)
    {
        _closingConnections = true;
        await worker.DrainSteps.RunAsync(CloseWindowFor(options) / 2, cancellationToken).ConfigureAwait(false);
        webSockets.GoAway();
        IConnectionListener[] listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
        }

        foreach (var listener in listeners)
        {
            await listener.UnbindAsync(cancellationToken).ConfigureAwait(false);
        }

        var deadline = DateTime.UtcNow + CloseWindowFor(options);
        while (worker.Load.OpenConnections > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
