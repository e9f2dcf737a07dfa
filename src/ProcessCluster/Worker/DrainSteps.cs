namespace ProcessCluster.Worker;

/// <summary>
/// What a draining worker does first, in the order registered, before its server closes what is left (WebSockets get
/// the going-away close): a protocol with its own way to send clients elsewhere, such as SignalR's close message that
/// allows a reconnect, says so before the connection under it is closed, so each client is told once, by its protocol.
/// The steps share a bounded window; a step registered after the drain began runs at once, in what is left of it.
/// </summary>
internal sealed class DrainSteps
{
    private readonly Lock _lock = new();
    private readonly List<Func<CancellationToken, Task>> _steps = [];
    private CancellationToken? _running;

    /// <summary>Adds a step: it gets a token that ends with the window, and should return once its clients are told (or gone).</summary>
    public void Add(Func<CancellationToken, Task> step)
    {
        CancellationToken running;
        lock (_lock)
        {
            if (_running is not { } started)
            {
                _steps.Add(step);
                return;
            }

            running = started;
        }

        _ = step(running);
    }

    /// <summary>Runs the steps one after the other, within <paramref name="window"/>; a step cut off by it does not stop the next.</summary>
    public async Task RunAsync(TimeSpan window, CancellationToken cancellationToken)
    {
        // Not disposed: a step registered late may still hold its token; a worker drains once, then exits.
        var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(window);
        Func<CancellationToken, Task>[] steps;
        lock (_lock)
        {
            _running = bounded.Token;
            steps = [.. _steps];
        }

        foreach (var step in steps)
        {
            try
            {
                await step(bounded.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (bounded.IsCancellationRequested)
            {
                // Out of time: what is left is closed by the server's drain.
            }
        }
    }
}
