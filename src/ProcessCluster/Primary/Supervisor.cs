using System.ComponentModel;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Policies;
using ProcessCluster.Worker;

namespace ProcessCluster.Primary;

/// <summary>
/// The primary's one loop (gunicorn's arbiter): everything that happens to workers — spawned, connected, listening,
/// messages, channel closed, exited, a respawn falling due — arrives as an event on one queue, and this loop alone
/// changes worker state, asks the policies what to do, and does it. Channel threads only read frames and post events.
/// </summary>
internal sealed class Supervisor : IAsyncDisposable
{
    private static readonly TimeSpan ChannelSendTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(5);

    private readonly ClusterOptions _options;
    private readonly ClusterPrimary _events;
    private readonly WorkerCommand _command;
    private readonly ILogger _logger;
    private readonly Channel<SupervisorEvent> _queue = Channel.CreateUnbounded<SupervisorEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<int, WorkerHandle> _workers = [];
    private readonly object _workersLock = new();
    private readonly TaskCompletionSource _allExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly RestartPolicy _restartPolicy = RestartPolicy.Default;
    private readonly WorkerLauncher _launcher = new();
    private List<BoundEndpoint> _endpoints = [];
    private RoundRobinDispatcher? _dispatcher;
    private ChannelListener? _channels;
    private Task? _loop;
    private int _lastWorkerId;
    private int _bootFailures;
    private volatile bool _stopping;
    private int _disposed;

    public Supervisor(ClusterOptions options, WorkerCommand command, ClusterPrimary events, ILogger logger)
    {
        _options = options;
        _command = command;
        _events = events;
        _logger = logger;
    }

    /// <summary>The addresses the cluster listens on, with real ports.</summary>
    public IReadOnlyList<string> Urls => _endpoints.Select(endpoint => endpoint.Url).ToList();

    public IReadOnlyList<WorkerHandle> Workers
    {
        get
        {
            lock (_workersLock)
            {
                return _workers.Values.OrderBy(worker => worker.Id).ToList();
            }
        }
    }

    /// <summary>Binds the endpoints, opens the workers' channel and forks the initial workers.</summary>
    public void Start(IReadOnlyList<ClusterEndpoint> endpoints)
    {
        _endpoints = ListenSockets.Open(endpoints, _options.Backlog, _logger);
        _channels = new ChannelListener(_options.MaxMessageBytes, FindStartingWorker, RunChannel, _logger);
        if (_options.Scheduling == SchedulingMode.RoundRobin)
        {
            _dispatcher = new RoundRobinDispatcher(_endpoints, _options.MaxPendingConnections, _options.MaxHandoffsInFlight, _logger);
            _dispatcher.Start();
        }

        _loop = Task.Run(RunLoopAsync);
        _logger.LogInformation(
            "Primary {Pid} initialising cluster: {Workers} workers, {Scheduling} scheduling, listening on {Urls}",
            Environment.ProcessId, _options.Workers, _options.Scheduling, string.Join(", ", Urls));
        for (var i = 0; i < _options.Workers; i++)
        {
            Fork(null);
        }
    }

    /// <summary>Spawns one worker with extra environment variables; returns it at once, before it is online.</summary>
    public WorkerHandle Fork(IReadOnlyDictionary<string, string>? environment)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var channels = _channels ?? throw new InvalidOperationException("start the cluster before forking workers");
        var worker = new WorkerHandle(Interlocked.Increment(ref _lastWorkerId), ChannelListener.NewSecret(), DateTimeOffset.UtcNow, this);
        var variables = (environment ?? new Dictionary<string, string>())
            .Concat(new WorkerEnvironment(worker.Id, channels.Name, worker.Secret, Environment.ProcessId).ToVariables());
        _launcher.Spawn(
            _command,
            variables,
            onStarted: pid =>
            {
                worker.ProcessId = pid;
                lock (_workersLock)
                {
                    _workers.Add(worker.Id, worker);
                }

                Post(new Forked(worker));
            },
            onExit: (_, status) => Post(new Exited(worker, status)));
        return worker;
    }

    /// <summary>Asks a worker to stop gracefully; it is not replaced.</summary>
    public void RequestStop(WorkerHandle worker) => Post(new StopRequested(worker));

    /// <summary>
    /// Graceful stop: no new connections, every worker told to finish and exit, then — past the drain timeout or
    /// when <paramref name="cancellationToken"/> fires — SIGKILL for the rest. Returns when every worker has exited.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return;
        }

        _stopping = true;
        _dispatcher?.StopAccepting();
        Post(new StopAll());
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.DrainTimeout);
        try
        {
            await _allExited.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            foreach (var worker in Workers)
            {
                _logger.LogWarning("{Worker} did not stop in time; killing it", worker);
                worker.Kill(SignalNames.SIGKILL);
            }

            // SIGKILL cannot be refused; the wait is only for the reaper to report it.
            await _allExited.Task.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        }

        _logger.LogInformation("All workers have exited; primary {Pid} stops", Environment.ProcessId);
    }

    private WorkerHandle? FindStartingWorker(int pid)
    {
        lock (_workersLock)
        {
            return _workers.Values.FirstOrDefault(worker => worker.ProcessId == pid && worker.State == WorkerState.Starting && !worker.IsConnected);
        }
    }

    /// <summary>Serves one authenticated worker channel on its own thread until it closes.</summary>
    private void RunChannel(WorkerHandle worker, IpcChannel channel)
    {
        lock (_workersLock)
        {
            if (worker.IsConnected || worker.State != WorkerState.Starting)
            {
                _logger.LogWarning("Refused a second channel from {Worker}", worker);
                return;
            }

            worker.Channel = channel;
        }

        string? reason = null;
        try
        {
            channel.SetSendTimeout(ChannelSendTimeout);
            SendWelcome(worker, channel);
            Post(new Connected(worker));
            while (channel.Receive() is { } frame)
            {
                HandleFrame(worker, frame);
            }
        }
        catch (Exception error) when (error is ProtocolViolationException or Win32Exception)
        {
            reason = error.Message;
            _logger.LogWarning("Dropped the channel of {Worker}: {Reason}", worker, reason);
        }
        finally
        {
            worker.Channel = null;
            Post(new Disconnected(worker, reason));
        }
    }

    private void SendWelcome(WorkerHandle worker, IpcChannel channel)
    {
        var shared = _options.Scheduling == SchedulingMode.Shared;
        var welcome = new WelcomeMessage(
            worker.Id,
            _options.Scheduling,
            _endpoints.Select(endpoint => new EndpointInfo(
                endpoint.Configured.EndPoint.Address.ToString(),
                endpoint.Configured.EndPoint.Port,
                endpoint.Bound.Address.ToString(),
                endpoint.Bound.Port)).ToList());
        int[] fds = shared ? _endpoints.Select(endpoint => endpoint.Fd).ToArray() : [];
        channel.SendJson(FrameType.Welcome, welcome, IpcJson.Default.WelcomeMessage, fds);
    }

    private void HandleFrame(WorkerHandle worker, Frame frame)
    {
        if (frame.Fds.Length > 0)
        {
            Array.ForEach(frame.Fds, SocketInterop.Close);
            throw new ProtocolViolationException($"a worker sent descriptors with a {frame.Type} frame");
        }

        switch (frame.Type)
        {
            case FrameType.Ack:
                _dispatcher?.OnAcks(worker, FrameFormat.ReadAcks(frame));
                break;
            case FrameType.Listening:
                Post(new Listening(worker, IpcChannel.ReadJson(frame, IpcJson.Default.ListeningMessage).Addresses));
                break;
            case FrameType.Message:
                Post(new MessageReceived(worker, ParseMessage(frame)));
                break;
            case FrameType.Stopping:
                Post(new WorkerStopping(worker));
                break;
            default:
                throw new ProtocolViolationException($"a worker may not send {frame.Type} frames");
        }
    }

    private static JsonElement ParseMessage(Frame frame)
    {
        try
        {
            using var document = JsonDocument.Parse(frame.Payload);
            return document.RootElement.Clone();
        }
        catch (JsonException error)
        {
            throw new ProtocolViolationException($"malformed message: {error.Message}");
        }
    }

    private void Post(SupervisorEvent @event) => _queue.Writer.TryWrite(@event);

    private async Task RunLoopAsync()
    {
        await foreach (var @event in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                Apply(@event);
            }
            catch (Exception error)
            {
                // The supervisor must outlive any single misstep: log it and carry on.
                _logger.LogError(error, "The supervisor failed to handle {Event}", @event.GetType().Name);
            }
        }
    }

    private void Apply(SupervisorEvent @event)
    {
        switch (@event)
        {
            case Forked(var worker):
                _logger.LogDebug("Forked {Worker}", worker);
                _events.OnForked(worker);
                break;
            case Connected(var worker):
                worker.State = WorkerState.Online;
                _events.OnOnline(worker);
                break;
            case Listening(var worker, var addresses):
                OnListening(worker, addresses);
                break;
            case MessageReceived(var worker, var message):
                _events.OnMessage(worker, message);
                break;
            case Disconnected(var worker, _):
                OnDisconnected(worker);
                break;
            case Exited(var worker, var status):
                OnExited(worker, status);
                break;
            case StopRequested(var worker):
                Stop(worker);
                break;
            case WorkerStopping(var worker):
                if (!worker.IsDead)
                {
                    TakeOutOfDispatch(worker);
                }

                break;
            case StopAll:
                StopEveryone();
                break;
            case RespawnDue:
                Respawn();
                break;
        }
    }

    private void OnListening(WorkerHandle worker, IReadOnlyList<string> addresses)
    {
        var channel = worker.Channel;
        if (worker.State != WorkerState.Online || channel is null)
        {
            return;
        }

        worker.State = WorkerState.Ready;
        worker.ReadyAt = DateTimeOffset.UtcNow;
        worker.ListeningAddresses = addresses;
        _bootFailures = 0;
        _dispatcher?.AddWorker(worker, channel);
        _logger.LogInformation("Worker {Id} (pid {Pid}) started on {Addresses}", worker.Id, worker.ProcessId, string.Join(", ", addresses));
        foreach (var address in addresses)
        {
            _events.OnListening(worker, address);
        }
    }

    private void OnDisconnected(WorkerHandle worker)
    {
        _dispatcher?.Retire(worker);
        _events.OnDisconnected(worker);
        if (worker.State != WorkerState.Dead)
        {
            // A worker exits by itself when its channel closes; one that does not is killed.
            _ = KillIfAliveAfterAsync(worker, OrphanGrace);
        }
    }

    private async Task KillIfAliveAfterAsync(WorkerHandle worker, TimeSpan grace)
    {
        await Task.Delay(grace).ConfigureAwait(false);
        if (!worker.IsDead)
        {
            _logger.LogWarning("{Worker} lost its channel and did not exit; killing it", worker);
            worker.Kill(SignalNames.SIGKILL);
        }
    }

    private void OnExited(WorkerHandle worker, ExitStatus status)
    {
        var wasReady = worker.ReadyAt is not null;
        worker.State = WorkerState.Dead;
        worker.ExitStatus = status;
        lock (_workersLock)
        {
            _workers.Remove(worker.Id);
        }

        _dispatcher?.RemoveWorker(worker);
        var replace = !worker.StopRequested && !_stopping;
        if (worker.StopRequested || (_stopping && status.IsClean))
        {
            _logger.LogInformation("Worker {Id} (pid {Pid}) {How}", worker.Id, worker.ProcessId, status.Describe());
        }
        else
        {
            _logger.LogWarning(
                "Worker {Id} (pid {Pid}) {How}{Next}", worker.Id, worker.ProcessId, status.Describe(), replace ? "; starting a replacement" : string.Empty);
        }

        _events.OnExited(worker, status);
        if (replace)
        {
            ScheduleRespawn(wasReady);
        }

        if (_stopping && Workers.Count == 0)
        {
            _allExited.TrySetResult();
        }
    }

    private void ScheduleRespawn(bool wasReady)
    {
        (var delay, _bootFailures) = _restartPolicy.Decide(_bootFailures, wasReady);
        if (delay == TimeSpan.Zero)
        {
            Respawn();
            return;
        }

        _logger.LogWarning("Workers are failing before they become ready ({Failures} in a row); next start in {Delay} ms", _bootFailures, delay.TotalMilliseconds);
        _ = PostAfterAsync(new RespawnDue(), delay);
    }

    private void Respawn()
    {
        if (_stopping)
        {
            return;
        }

        try
        {
            Fork(null);
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            _logger.LogError("Could not start a worker: {Reason}", error.Message);
            ScheduleRespawn(wasReady: false);
        }
    }

    private async Task PostAfterAsync(SupervisorEvent @event, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _lifetime.Token).ConfigureAwait(false);
            Post(@event);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Stop(WorkerHandle worker)
    {
        if (worker.IsDead || worker.State == WorkerState.Stopping)
        {
            return;
        }

        worker.StopRequested = true;
        TakeOutOfDispatch(worker);
        var channel = worker.Channel;
        try
        {
            if (channel is null)
            {
                // Not connected yet: its runtime turns SIGTERM into the same graceful stop.
                worker.Kill();
            }
            else
            {
                channel.Send(FrameType.Disconnect, []);
            }
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            worker.Kill();
        }
    }

    /// <summary>The worker is leaving: nothing new is dispatched to it; what it holds it may still finish.</summary>
    private void TakeOutOfDispatch(WorkerHandle worker)
    {
        worker.State = WorkerState.Stopping;
        _dispatcher?.Retire(worker);
    }

    private void StopEveryone()
    {
        var workers = Workers;
        foreach (var worker in workers)
        {
            Stop(worker);
        }

        if (workers.Count == 0)
        {
            _allExited.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        await _lifetime.CancelAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _dispatcher?.StopAccepting();
        _dispatcher?.Dispose();
        _channels?.Dispose();
        _endpoints.ForEach(endpoint => endpoint.Dispose());
        _launcher.Dispose();
        _lifetime.Dispose();
    }

    private abstract record SupervisorEvent;

    private sealed record Forked(WorkerHandle Worker) : SupervisorEvent;

    private sealed record Connected(WorkerHandle Worker) : SupervisorEvent;

    private sealed record Listening(WorkerHandle Worker, IReadOnlyList<string> Addresses) : SupervisorEvent;

    private sealed record MessageReceived(WorkerHandle Worker, JsonElement Message) : SupervisorEvent;

    private sealed record Disconnected(WorkerHandle Worker, string? Reason) : SupervisorEvent;

    private sealed record Exited(WorkerHandle Worker, ExitStatus Status) : SupervisorEvent;

    private sealed record StopRequested(WorkerHandle Worker) : SupervisorEvent;

    private sealed record WorkerStopping(WorkerHandle Worker) : SupervisorEvent;

    private sealed record StopAll : SupervisorEvent;

    private sealed record RespawnDue : SupervisorEvent;
}
