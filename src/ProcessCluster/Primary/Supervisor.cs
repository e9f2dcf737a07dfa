using System.ComponentModel;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ProcessCluster.Control;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Policies;
using ProcessCluster.Telemetry;
using ProcessCluster.Worker;

namespace ProcessCluster.Primary;

/// <summary>
/// The primary's one loop (gunicorn's arbiter): everything that happens to workers — spawned, channel reports, exits,
/// a timer falling due, a reload or stop asked for — arrives as an event on one queue, and this loop alone moves
/// worker state, asks the policies what to do (restart, health, replacement), and does it.
/// </summary>
internal sealed partial class Supervisor : IAsyncDisposable
{
    /// <summary>How often workers report load when the scaler or least-busy dispatch reads it.</summary>
    private static readonly TimeSpan FastLoadReports = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(5);

    /// <summary>Beyond the drain timeout, time for a worker whose server gave up waiting to exit by itself.</summary>
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(2);

    private readonly ClusterOptions _options;
    private readonly ClusterPrimary _events;
    private readonly WorkerCommand _command;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock = TimeProvider.System;
    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<int, WorkerHandle> _workers = [];
    private readonly object _workersLock = new();
    private readonly TaskCompletionSource _allExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationTokenSource _fastStop = new();
    private readonly SystemdNotifier _systemd = SystemdNotifier.FromEnvironment();
    private readonly RestartPolicy _restartPolicy;
    private readonly WorkerHealthPolicy _healthPolicy;
    private readonly ReplacementQueue _replacements = new();
    private readonly WorkerLauncher _launcher;
    private List<BoundEndpoint> _endpoints = [];
    private RoundRobinDispatcher? _dispatcher;
    private ChannelListener? _channels;
    private Task? _loop;
    private int _lastWorkerId;
    private long _restarts;
    private DateTimeOffset _startedAt;
    private RestartHistory _restartHistory = RestartHistory.Empty;
    private ReloadRun? _reload;
    private ClusterMetrics? _metrics;
    private DateTimeOffset _recyclingHeldUntil;
    private bool _everReady;
    private bool _announcedReady;
    private bool _gaveUp;
    private volatile bool _stopping;
    private int _disposed;

    public Supervisor(ClusterOptions options, WorkerCommand command, ClusterPrimary events, ILogger logger)
    {
        _options = options;
        _command = command;
        _events = events;
        _logger = logger;
        _restartPolicy = RestartPolicy.From(options);
        _healthPolicy = new WorkerHealthPolicy(options);
        _launcher = new WorkerLauncher(options.LogFormat);
        _autoscaling = options.Autoscaling;
        _scalingPolicy = ScalingPolicy.From(options);
        _desiredWorkers = options.InitialWorkers;
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

    /// <summary>Recent forks, exits, scale decisions and reloads.</summary>
    public ClusterEventLog EventLog { get; } = new();

    private DateTimeOffset Now => _clock.GetUtcNow();

    /// <summary>
    /// How often workers report load: twice a second when the scaler, least-busy dispatch or rebalancing reads the
    /// reports (a busy fraction needs two reports, so this bounds how soon a load step is seen; a replacement's first
    /// report after it is ready lets the others shed connections to it), else with each heartbeat.
    /// </summary>
    private TimeSpan LoadReportInterval => ReportsLoad ? FastLoadReports : _options.HeartbeatInterval;

    private bool ReportsLoad => _options.Autoscaling || _options.Scheduling == SchedulingMode.RoundRobin;

    /// <summary>How often memory is sampled and the policies consulted: every second, or at each load report if sooner.</summary>
    private TimeSpan ProbeInterval => TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, LoadReportInterval.Ticks));

    /// <summary>Binds the endpoints, opens the workers' channel and forks the initial workers.</summary>
    public void Start(IReadOnlyList<ClusterEndpoint> endpoints)
    {
        _startedAt = Now;
        _endpoints = ListenSockets.Open(endpoints, _options.Backlog, _logger);
        if (_options.Scheduling == SchedulingMode.RoundRobin)
        {
            _dispatcher = new RoundRobinDispatcher(
                _endpoints, _options.MaxPendingConnections, _options.MaxHandoffsInFlight, _options.Dispatch, 3 * LoadReportInterval, _logger);
            _dispatcher.Start();
        }

        var session = new WorkerChannelSession(Welcome, _dispatcher, Post, _logger);
        _channels = new ChannelListener(_options.MaxMessageBytes, FindStartingWorker, (worker, channel) => ServeChannel(session, worker, channel), _logger);
        _loop = Task.Run(RunLoopAsync);
        _ = ProbePeriodicallyAsync();
        _metrics = new ClusterMetrics(() => Workers, () => DesiredWorkers, () => _dispatcher?.Queued ?? 0);
        _logger.LogInformation(
            "Primary {Pid} initialising cluster: {Workers}, {Scheduling} scheduling, listening on {Urls}",
            Environment.ProcessId, WorkerCountText(), _options.Scheduling, string.Join(", ", Urls));
        for (var i = 0; i < _desiredWorkers + _options.WarmSpares; i++)
        {
            Fork(null);
        }
    }

    /// <summary>
    /// Spawns one worker with extra environment variables; returns it at once, before it is online.
    /// <paramref name="restarts"/>: how many workers died unasked before it in its place.
    /// </summary>
    public WorkerHandle Fork(IReadOnlyDictionary<string, string>? environment, int restarts = 0)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var channels = _channels ?? throw new InvalidOperationException("start the cluster before forking workers");
        var worker = new WorkerHandle(Interlocked.Increment(ref _lastWorkerId), ChannelListener.NewSecret(), Now, this)
        {
            RequestLimit = WorkerHealthPolicy.RequestLimit(_options, Random.Shared.NextDouble()),
            Restarts = restarts,
        };
        var variables = (environment ?? new Dictionary<string, string>())
            .Concat(new WorkerEnvironment(worker.Id, channels.Name, worker.Secret, Environment.ProcessId).ToVariables());
        _launcher.Spawn(
            _command,
            worker.Id,
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

    /// <summary>Connections the dispatcher has handed to the worker (RoundRobin scheduling).</summary>
    internal long Dispatched(int workerId) => _dispatcher?.Dispatched(workerId) ?? 0;

    /// <summary>Replaces every ready worker with a fresh process from the binary on disk, surge first, a few at a time.</summary>
    public Task<ReloadResult> ReloadAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<ReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new ReloadRequested(done));
        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The cluster now: its settings in force, every worker's state and load, and the recent events.</summary>
    public ClusterStatus Status()
    {
        var now = Now;
        var bounds = _autoscaling || _sized ? (_manualBounds ?? _scalingPolicy) : _scalingPolicy with { Min = _desiredWorkers, Max = _desiredWorkers };
        return new ClusterStatus(
            Environment.ProcessId,
            _startedAt,
            Math.Round((now - _startedAt).TotalSeconds, 1),
            _options.Scheduling,
            _options.Dispatch,
            Urls,
            DesiredWorkers,
            bounds.Min,
            bounds.Max,
            _autoscaling,
            _dispatcher?.Queued ?? 0,
            Interlocked.Read(ref _restarts),
            Workers.Select(worker => WorkerStatus.Of(worker, now)).ToList(),
            EventLog.Recent(50));
    }

    /// <summary>
    /// Fast stop (gunicorn's SIGQUIT): every worker is killed now, without draining. A graceful stop under way, or the
    /// next one, then ends as soon as they are reaped.
    /// </summary>
    public void StopFast()
    {
        if (_loop is null)
        {
            return;
        }

        _stopping = true;
        _fastStop.Cancel();
        Post(new KillAll());
    }

    /// <summary>
    /// Graceful stop. Accepting stops; connections the primary already holds are handed to workers; then every worker
    /// drains (its server finishes in-flight requests and closes idle connections) and exits. Past the drain timeout,
    /// or when <paramref name="cancellationToken"/> fires, the rest are killed. True when nothing had to be killed.
    /// </summary>
    public async Task<bool> StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return true;
        }

        _stopping = true;
        _systemd.Notify("STOPPING=1", "STATUS=Draining workers");
        Post(new StopBegun());
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _fastStop.Token);
        deadline.CancelAfter(_options.DrainTimeout + ExitGrace);
        if (_dispatcher is { } dispatcher)
        {
            dispatcher.StopAccepting();
            try
            {
                // Drain only once every held connection has a worker: a draining worker takes no more.
                await dispatcher.Flushed.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_fastStop.IsCancellationRequested)
            {
                _logger.LogWarning("No worker took the connections the primary still held; they are closed");
            }
            catch (OperationCanceledException)
            {
            }
        }
        else
        {
            // Shared: the workers' copies keep the socket listening until the last of them stops accepting; then it
            // closes and clients are refused, instead of waiting in a backlog that nobody would serve. New handshakes
            // are dropped first: one completing between the last worker's final accept and its close would be reset.
            foreach (var endpoint in _endpoints)
            {
                SocketInterop.DropIncoming(endpoint.Fd);
                endpoint.Dispose();
            }
        }

        Post(new DrainAll());
        var drained = true;
        try
        {
            await _allExited.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            drained = _fastStop.IsCancellationRequested;
            foreach (var worker in Workers)
            {
                if (!drained)
                {
                    _logger.LogWarning("{Worker} did not finish draining in time; killing it", worker);
                }

                worker.Kill(SignalNames.SIGKILL);
            }

            // SIGKILL cannot be refused; the wait is only for the reaper to report it.
            await _allExited.Task.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        }

        _logger.LogInformation("All workers have exited; primary {Pid} stops", Environment.ProcessId);
        return drained;
    }

    private WorkerHandle? FindStartingWorker(int pid)
    {
        lock (_workersLock)
        {
            return _workers.Values.FirstOrDefault(worker => worker.ProcessId == pid && worker.State == WorkerState.Starting && !worker.IsConnected);
        }
    }

    /// <summary>Claims the worker for this channel (a second one is refused), then serves it until it closes.</summary>
    private void ServeChannel(WorkerChannelSession session, WorkerHandle worker, IpcChannel channel)
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

        session.Run(worker, channel);
    }

    private (WelcomeMessage, int[]) Welcome(WorkerHandle worker)
    {
        var welcome = new WelcomeMessage(
            worker.Id,
            _options.Scheduling,
            _endpoints.Select(endpoint => new EndpointInfo(
                endpoint.Configured.EndPoint.Address.ToString(),
                endpoint.Configured.EndPoint.Port,
                endpoint.Bound.Address.ToString(),
                endpoint.Bound.Port)).ToList(),
            (int)_options.HeartbeatInterval.TotalMilliseconds,
            ReportsLoad ? (int)FastLoadReports.TotalMilliseconds : 0);
        int[] fds = _options.Scheduling == SchedulingMode.Shared ? _endpoints.Select(endpoint => endpoint.Fd).ToArray() : [];
        return (welcome, fds);
    }

    private void Post(object @event) => _queue.Writer.TryWrite(@event);

    private void PostAfter(object @event, TimeSpan delay) => _ = PostAfterAsync(@event, delay);

    private async Task PostAfterAsync(object @event, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _clock, _lifetime.Token).ConfigureAwait(false);
            Post(@event);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ProbePeriodicallyAsync()
    {
        using var timer = new PeriodicTimer(ProbeInterval, _clock);
        try
        {
            while (await timer.WaitForNextTickAsync(_lifetime.Token).ConfigureAwait(false))
            {
                Post(new ProbeDue());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

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

    private void Apply(object @event)
    {
        switch (@event)
        {
            case Forked(var worker):
                _logger.LogDebug("Forked {Worker}", worker);
                EventLog.Add(ClusterEventKind.Forked, $"worker {worker.Id} forked", worker.Id, worker.ProcessId);
                _events.OnForked(worker);
                break;
            case ChannelConnected(var worker):
                if (Move(worker, WorkerTrigger.Connected))
                {
                    worker.LastHeartbeatAt = Now;
                    _events.OnOnline(worker);
                }

                break;
            case ChannelListening(var worker, var addresses):
                OnListening(worker, addresses);
                break;
            case ChannelLoad(var worker, var load, var alive):
                worker.RecordLoad(load, alive, Now);
                _dispatcher?.OnLoadReport(worker.Id, load.InFlight);
                if (!alive)
                {
                    // Act on a load step as soon as it is measured, not at the next probe.
                    Scale();
                }

                break;
            case ChannelMessage(var worker, var message):
                _events.OnMessage(worker, message);
                break;
            case ChannelStopping(var worker):
                // The app is shutting down by itself: out of dispatch now; its exit decides what follows.
                if (Move(worker, WorkerTrigger.Drain))
                {
                    _dispatcher?.Retire(worker.Id);
                }

                break;
            case ChannelClosed(var worker, _):
                OnChannelClosed(worker);
                break;
            case Exited(var worker, var status):
                OnExited(worker, status);
                break;
            case StopRequested(var worker):
                Drain(worker, StopReason.Requested);
                break;
            case DrainDeadline(var worker):
                if (!worker.IsDead)
                {
                    _logger.LogWarning("{Worker} did not finish draining within {Timeout} s; killing it", worker, _options.DrainTimeout.TotalSeconds);
                    worker.Kill(SignalNames.SIGKILL);
                }

                break;
            case ReloadRequested(var done):
                StartReload(done);
                break;
            case RespawnDue(var restarts):
                _respawnsPending--;
                if (!_stopping && !_gaveUp)
                {
                    TryFork(restarts);
                }

                break;
            case ProbeDue:
                Probe();
                Scale();
                Rebalance();
                break;
            case ScaleRequested(var min, var max):
                SetWorkerBounds(min, max);
                Scale();
                break;
            case ScaleByRequested(var change):
                var count = Math.Clamp(_desiredWorkers + change, 1, ScaleTarget.Limit);
                SetWorkerBounds(count, count);
                Scale();
                break;
            case StopBegun:
                AbandonReplacements();
                break;
            case DrainAll:
                DrainEveryone();
                break;
            case KillAll:
                KillEveryone();
                break;
        }
    }

    /// <summary>Moves a worker through its state machine; false (and nothing changes) when the move is not allowed.</summary>
    private static bool Move(WorkerHandle worker, WorkerTrigger trigger)
    {
        if (WorkerStateMachine.Next(worker.State, trigger) is not { } next)
        {
            return false;
        }

        worker.State = next;
        return true;
    }

    private void OnListening(WorkerHandle worker, IReadOnlyList<string> addresses)
    {
        var channel = worker.Channel;
        var step = _replacements.WorkerReady(worker.Id);
        var spare = step is null && KeepsAsSpare();
        if (channel is null || !Move(worker, spare ? WorkerTrigger.ListeningAsSpare : WorkerTrigger.Listening))
        {
            return;
        }

        worker.ReadyAt = Now;
        worker.ListeningAddresses = addresses;
        _everReady = true;
        if (!spare)
        {
            _dispatcher?.AddWorker(worker.Id, channel);
        }

        _logger.LogInformation(
            "Worker {Id} (pid {Pid}) started on {Addresses}{Role}", worker.Id, worker.ProcessId, string.Join(", ", addresses), spare ? ", kept as a warm spare" : "");
        EventLog.Add(
            ClusterEventKind.Ready,
            $"worker {worker.Id} ready{(spare ? " as a warm spare" : "")}, {(worker.ReadyAt - worker.ForkedAt)!.Value.TotalMilliseconds:0} ms after its fork",
            worker.Id,
            worker.ProcessId);

        foreach (var address in addresses)
        {
            _events.OnListening(worker, address);
        }

        if (step is not null)
        {
            if (Find(step.OldWorkerId) is { } old)
            {
                _logger.LogInformation("Worker {Id} (pid {Pid}) is ready; draining {Old} ({Reason})", worker.Id, worker.ProcessId, old, step.Reason.Describe());
                Drain(old, step.Reason);
            }
            else
            {
                _replacements.WorkerExited(step.OldWorkerId);
            }
        }

        AdvanceReplacements();
        CompleteReloadIfDone();
        AnnounceReadyOnce();
    }

    /// <summary>Tells systemd (Type=notify) the service is up once the initial workers all serve, not merely started.</summary>
    private void AnnounceReadyOnce()
    {
        var ready = CountIn(WorkerState.Ready);
        if (_announcedReady || ready < _options.InitialWorkers)
        {
            return;
        }

        _announcedReady = true;
        _systemd.Notify("READY=1", $"STATUS={ready} workers ready on {string.Join(", ", Urls)}", $"MAINPID={Environment.ProcessId}");
    }

    private void OnChannelClosed(WorkerHandle worker)
    {
        _dispatcher?.Retire(worker.Id);
        _events.OnDisconnected(worker);
        if (!worker.IsDead)
        {
            // A worker exits by itself when its channel closes; one that does not is killed.
            _ = KillIfAliveAfterAsync(worker, OrphanGrace);
        }
    }

    private async Task KillIfAliveAfterAsync(WorkerHandle worker, TimeSpan grace)
    {
        await Task.Delay(grace, _clock).ConfigureAwait(false);
        if (!worker.IsDead)
        {
            _logger.LogWarning("{Worker} lost its channel and did not exit; killing it", worker);
            worker.Kill(SignalNames.SIGKILL);
        }
    }

    private void OnExited(WorkerHandle worker, ExitStatus status)
    {
        var death = new WorkerDeath(
            Now - worker.ForkedAt,
            worker.ReadyAt is not null,
            Workers.Any(other => other != worker && other.State == WorkerState.Ready));
        Move(worker, WorkerTrigger.Exited);
        worker.ExitStatus = status;
        worker.StopReason ??= StopReasons.Unasked(status);
        lock (_workersLock)
        {
            _workers.Remove(worker.Id);
        }

        _dispatcher?.RemoveWorker(worker.Id);
        PromoteSpares();
        var replacement = _replacements.WorkerExited(worker.Id);
        // Not restarted: planned stops, and a successor's failure or an old worker whose successor is on its way.
        var restart = !_stopping && !_gaveUp && !worker.StopRequested && replacement is null or { Outcome: ReplacementOutcome.Completed };
        var decision = worker.StopRequested ? null : _restartPolicy.Decide(_restartHistory, death, Now);
        _restartHistory = decision?.History ?? _restartHistory;
        var giveUp = !_stopping && decision is { GiveUp: true } && !_gaveUp;
        var restarting = restart && !giveUp;
        LogExit(worker, status, restarting ? decision!.Delay : null);
        if (restarting)
        {
            Interlocked.Increment(ref _restarts);
        }

        if (replacement is not null || restarting)
        {
            _metrics?.Restarted(worker.StopReason.Value);
        }

        _events.OnExited(worker, status);

        switch (replacement)
        {
            case ({ } step, ReplacementOutcome.SuccessorFailed):
                OnSuccessorFailed(worker, step);
                break;
            case ({ Reason: StopReason.Reload }, ReplacementOutcome.Completed) when _reload is not null:
                _reload.Replaced++;
                break;
        }

        if (giveUp)
        {
            GiveUp();
        }
        else if (restart && decision is not null)
        {
            _respawnsPending++;
            PostAfter(new RespawnDue(worker.Restarts + 1), decision.Delay);
        }

        AdvanceReplacements();
        CompleteReloadIfDone();
        if (_stopping && Workers.Count == 0)
        {
            _allExited.TrySetResult();
        }
    }

    private void LogExit(WorkerHandle worker, ExitStatus status, TimeSpan? restartDelay)
    {
        // An unasked death is told by how it ended; any other exit also says why the cluster ended it.
        var reason = worker.StopReason is StopReason.Exited or StopReason.Crashed or StopReason.KilledBySignal ? string.Empty : $" ({worker.StopReason!.Value.Describe()})";
        var next = restartDelay is { } delay ? $"; starting a replacement in {delay.TotalMilliseconds:0} ms" : string.Empty;
        EventLog.Add(ClusterEventKind.Exited, $"worker {worker.Id} {status.Describe()}{reason}{next}", worker.Id, worker.ProcessId);
        _logger.Log(
            worker.StopRequested ? LogLevel.Information : LogLevel.Warning,
            "Worker {Id} (pid {Pid}) {How}{Reason}{Next}",
            worker.Id,
            worker.ProcessId,
            status.Describe(),
            reason,
            next);
    }

    /// <summary>Crash loop: no more automatic starts until a reload; the primary itself stops only if no worker was ever ready.</summary>
    private void GiveUp()
    {
        _gaveUp = true;
        _replacements.CancelWaiting(_ => true);
        var reason = $"more than {_options.CrashLoopLimit} workers died before they were ready or within {_options.MinUptime.TotalSeconds} s "
            + $"of starting, in {_options.CrashLoopWindow.TotalSeconds} s";
        AbortReload(reason);
        EventLog.Add(ClusterEventKind.CrashLoop, $"crash loop: {reason}; restarts stopped");
        if (!_everReady)
        {
            _logger.LogCritical("Crash loop: {Reason}, and no worker ever became ready; the cluster cannot run", reason);
            _events.OnFailed(reason);
        }
        else
        {
            _logger.LogError(
                "Crash loop: {Reason}; no more workers will be started until a reload. {Alive} workers keep serving",
                reason,
                CountIn(WorkerState.Ready));
        }
    }

    private void TryFork(int restarts = 0)
    {
        try
        {
            Fork(null, restarts);
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            _logger.LogError("Could not start a worker: {Reason}", error.Message);
        }
    }

    /// <summary>Takes a worker out of dispatch and asks it to finish its requests and exit, with a deadline.</summary>
    private void Drain(WorkerHandle worker, StopReason reason)
    {
        if (worker.IsDead)
        {
            return;
        }

        // A worker already draining by itself keeps draining; the reason says whether it will be replaced.
        worker.StopReason ??= reason;
        if (!Move(worker, WorkerTrigger.Drain))
        {
            return;
        }

        _dispatcher?.Retire(worker.Id);
        try
        {
            if (worker.Channel is { } channel)
            {
                channel.Send(FrameType.Disconnect, []);
            }
            else
            {
                // Not connected yet: its runtime turns SIGTERM into the same graceful stop.
                worker.Kill();
            }
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            worker.Kill();
        }

        PostAfter(new DrainDeadline(worker), _options.DrainTimeout + ExitGrace);
    }

    /// <summary>
    /// Kills a worker that cannot be drained (hung, never ready); what it had not taken goes to others. A worker
    /// already leaving on purpose keeps that reason: its successor is on its way, so it must not be restarted too.
    /// </summary>
    private void Terminate(WorkerHandle worker, StopReason reason)
    {
        worker.Terminated = true;
        if (worker.StopReason?.IsPlanned() != true)
        {
            worker.StopReason = reason;
        }

        Move(worker, WorkerTrigger.Drain);
        _dispatcher?.Retire(worker.Id);
        worker.Kill(SignalNames.SIGKILL);
        PromoteSpares();
    }

    private void DrainEveryone() => StopEveryone(worker => Drain(worker, StopReason.Shutdown));

    private void KillEveryone()
    {
        AbandonReplacements();
        _logger.LogWarning("Fast stop: killing {Count} workers without draining", Workers.Count);
        StopEveryone(worker => Terminate(worker, StopReason.Shutdown));
    }

    /// <summary>Stops every worker for the cluster's shutdown; with none left, the stop is already complete.</summary>
    private void StopEveryone(Action<WorkerHandle> stop)
    {
        var workers = Workers;
        foreach (var worker in workers)
        {
            stop(worker);
        }

        if (workers.Count == 0)
        {
            _allExited.TrySetResult();
        }
    }

    /// <summary>The cluster is stopping: no reload goes on and no queued replacement starts.</summary>
    private void AbandonReplacements()
    {
        AbortReload("the cluster is stopping");
        _replacements.CancelWaiting(_ => true);
    }

    private int CountIn(WorkerState state) => Workers.Count(worker => worker.State == state);

    private WorkerHandle? Find(int id)
    {
        lock (_workersLock)
        {
            return _workers.GetValueOrDefault(id);
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
        _metrics?.Dispose();
        _lifetime.Dispose();
        _fastStop.Dispose();
    }

    private sealed record Forked(WorkerHandle Worker);

    private sealed record Exited(WorkerHandle Worker, ExitStatus Status);

    private sealed record StopRequested(WorkerHandle Worker);

    private sealed record DrainDeadline(WorkerHandle Worker);

    private sealed record ReloadRequested(TaskCompletionSource<ReloadResult> Done);

    private sealed record RespawnDue(int Restarts);

    private sealed record ScaleRequested(int Min, int Max);

    private sealed record ScaleByRequested(int Change);

    private sealed record ProbeDue;

    private sealed record StopBegun;

    private sealed record DrainAll;

    private sealed record KillAll;
}
