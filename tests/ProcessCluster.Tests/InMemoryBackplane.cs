using ProcessCluster.Ipc;
using ProcessCluster.SignalR;

namespace ProcessCluster.Tests;

/// <summary>
/// The primary's relay in memory: what one worker's channel sends reaches every other worker that subscribed, in the
/// order sent (BackplaneRelayTests test the real relay over real channels).
/// </summary>
internal sealed class InMemoryBackplane
{
    private readonly Lock _lock = new();
    private readonly List<Channel> _subscribed = [];
    private int _workers;

    /// <summary>Messages relayed so far (not counting subscriptions).</summary>
    public int Relayed { get; private set; }

    public IBackplaneChannel NewWorker() => new Channel(this, Interlocked.Increment(ref _workers));

    /// <summary>
    /// The primary asks <paramref name="worker"/> to drain, for <paramref name="window"/> (1 s when not given: the
    /// tests' clients never leave by themselves); the task ends when its hubs' drains have.
    /// </summary>
    public static Task Drain(IBackplaneChannel worker, TimeSpan? window = null) => ((Channel)worker).Drain(window ?? TimeSpan.FromSeconds(1));

    private void Relay(Channel from, BackplaneMessage message)
    {
        // Written out as the primary would send it, so that a message the wire cannot carry fails here too.
        var relayed = BackplaneMessage.Read(message.Write());
        lock (_lock)
        {
            if (relayed.Kind == BackplaneKind.Subscribe)
            {
                _subscribed.Add(from);
                return;
            }

            Relayed++;
            foreach (var to in _subscribed.Where(to => to != from))
            {
                to.Deliver(relayed);
            }
        }
    }

    private sealed class Channel(InMemoryBackplane backplane, int workerId) : IBackplaneChannel
    {
        private readonly List<Func<CancellationToken, Task>> _drains = [];
        private Action<BackplaneMessage>? _handler;
        private TimeSpan? _drainWindow;

        public int WorkerId => workerId;

        public Action<BackplaneMessage> Handler
        {
            set => _handler = value;
        }

        public void Send(BackplaneMessage message) => backplane.Relay(this, message);

        public void Deliver(BackplaneMessage message) => _handler?.Invoke(message);

        public void OnDraining(Func<CancellationToken, Task> drain)
        {
            _drains.Add(drain);
            if (_drainWindow is { } window)
            {
                _ = drain(new CancellationTokenSource(window).Token);
            }
        }

        public Task Drain(TimeSpan window)
        {
            _drainWindow = window;
            return Task.WhenAll(_drains.Select(drain => drain(new CancellationTokenSource(window).Token)));
        }
    }
}
