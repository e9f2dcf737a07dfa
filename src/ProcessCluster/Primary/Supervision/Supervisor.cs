using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;
using ProcessCluster.Primary.Channels;

namespace ProcessCluster.Primary;

/// <summary>
/// The primary's one loop (gunicorn's arbiter): everything that happens — a worker spawned, reporting, exiting, a
/// timer falling due, an operator's command — arrives as a <see cref="SupervisorEvent"/> on one bounded queue; the
/// loop hands each to the collaborator that owns that concern, and then publishes a <see cref="ClusterSnapshot"/>.
/// Only the loop writes worker state. An exception in it is a bug: the cluster stops rather than run on half-applied state.
/// </summary>
internal sealed class Supervisor : IWorkerOwner, IAsyncDisposable
{
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(5);

    private readonly Channel<SupervisorEvent> _queue = Channel.CreateBounded<SupervisorEvent>(
        new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _lifetime = new();
    private readonly ClusterOptions _options;
    private readonly WorkerCommand _command;
    private readonly IClusterObserver _observer;
    private readonly ILogger _logger;
    private readonly IWorkerProcesses _processes;
    private readonly IProcessProbe _probe;
    private readonly TimeProvider _clock;
    private IReadOnlyList<BoundEndpoint> _endpoints = [];
    private ChannelListener? _channels;
    private SupervisorContext? _context;
    private WorkerOperations? _operations;
    private Restarts? _restarts;
    private Replacements? _replacements;
    private Health? _health;
    private PoolSizer? _pool;
    private Rebalancer? _rebalancer;
    private ShutdownSequence? _shutdown;
    private volatile ClusterSnapshot _snapshot = ClusterSnapshot.Empty;
    private volatile bool _stopping;
    private bool _announcedReady;
    private bool _halted;
    private Task? _loop;
    private int _disposed;

    public Supervisor(
        ClusterOptions options,
        WorkerCommand command,
        IClusterObserver observer,
        ILogger logger,
        IWorkerProcesses? processes = null,
        IProcessProbe? probe = null,
        TimeProvider? clock = null)
    {
        _options = options;
        _command = command;
        _observer = observer;
        _logger = logger;
        _processes = processes ?? new WorkerLauncher(options.LogFormat);
        _probe = probe ?? new ProcFsProbe();
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The cluster after the loop's last event.</summary>
    public ClusterSnapshot Snapshot => _snapshot;

    /// <summary>The addresses the cluster listens on, with real ports.</summary>
    public IReadOnlyList<string> Urls => _endpoints.Select(endpoint => endpoint.Url).ToList();

    public int QueuedConnections => _context?.Distribution.Queued ?? 0;

    /// <summary>Events waiting for the loop.</summary>
    internal int PendingEvents => _queue.Reader.Count;

    /// <summary>Binds the endpoints, opens the workers' channel and starts the loop, which forks the initial workers.</summary>
    public void Start(IReadOnlyList<ClusterEndpoint> endpoints)
    {
        _endpoints = ListenSockets.Open(endpoints, _options.Backlog, _logger);
        IConnectionDistribution distribution = _options.Scheduling == SchedulingMode.RoundRobin
            ? new RoundRobinDispatcher(
                _endpoints, _options.MaxPendingConnections, _options.MaxHandoffsInFlight, _options.Dispatch, 3 * SupervisorContext.FastLoadReports, _logger)
            : new SharedDistribution(_endpoints);
        var welcome = new Welcome(_options, _endpoints, SupervisorContext.ReportsLoad(_options));
        _channels = new ChannelListener(_options.MaxMessageBytes, Post, new WorkerChannelSession(welcome, distribution, Post, _logger), _logger);
        Run(distribution, _channels.Name);
        SupervisorLog.Started(_logger, Environment.ProcessId, _pool!.Describe(), _options.Scheduling, string.Join(", ", Urls));
    }

    /// <summary>Starts the loop over <paramref name="distribution"/>, and the initial workers (tests call this directly).</summary>
    internal void Run(IConnectionDistribution distribution, string channelName)
    {
        var context = _context = new SupervisorContext(_options, _clock, distribution, _observer, _logger, PostAfter);
        _operations = new WorkerOperations(context, _processes, _command, () => channelName, this, Post);
        _restarts = new Restarts(context, _operations);
        _replacements = new Replacements(context, _operations);
        _health = new Health(context, _operations, _replacements, _probe);
        _pool = new PoolSizer(context, _operations, _restarts, _replacements, _health);
        _rebalancer = new Rebalancer(context);
        _shutdown = new ShutdownSequence(context, _operations, _replacements, _pool, Post);
        distribution.Start();
        Post(new StartWorkers());
        _loop = Task.Run(RunLoopAsync);
        _ = ProbePeriodicallyAsync();
    }

    /// <summary>Spawns one worker with extra environment variables; returns it at once, before it is spawned.</summary>
    public WorkerHandle Fork(IReadOnlyDictionary<string, string>? environment)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var worker = (_operations ?? throw new InvalidOperationException("start the cluster before forking workers")).Create();
        Post(new ForkRequested(worker, environment));
        return worker;
    }

    public Task<ReloadResult> ReloadAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<ReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new ReloadRequested(done));
        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Changes the bounds at runtime; min = max fixes the count.</summary>
    public void RequestScale(int min, int max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(min, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, min);
        Post(new ScaleRequested(min, max));
    }

    /// <summary>Fixes the count at the desired count plus <paramref name="change"/>, as of when the loop applies it.</summary>
    public void RequestScaleBy(int change) => Post(new ScaleByRequested(change));

    /// <summary>Fast stop (gunicorn's SIGQUIT): every worker is killed now; a graceful stop under way ends when they are reaped.</summary>
    public void StopFast()
    {
        _stopping = true;
        Post(new FastStopRequested());
    }

    /// <summary>
    /// Graceful stop (see <see cref="ShutdownSequence"/>). True when nothing had to be killed. When
    /// <paramref name="cancellationToken"/> fires first, the workers left are killed.
    /// </summary>
    public async Task<bool> StopAsync(CancellationToken cancellationToken)
    {
        if (_shutdown is not { } shutdown)
        {
            return true;
        }

        _stopping = true;
        Post(new StopRequested());
        try
        {
            return await shutdown.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Post(new StopDeadline());
            return await shutdown.Completion.ConfigureAwait(false);
        }
    }

    void IWorkerOwner.RequestStop(WorkerHandle worker) => Post(new WorkerStopRequested(worker));

    void IWorkerOwner.Signal(int pid, int signal) => _processes.Signal(pid, signal);

    long IWorkerOwner.Dispatched(int workerId) => _context?.Distribution.Dispatched(workerId) ?? 0;

    /// <summary>Hands an event to the loop. Producers other than the loop wait when the queue is full; the loop never posts to itself.</summary>
    internal void Post(SupervisorEvent @event)
    {
        if (_queue.Writer.TryWrite(@event))
        {
            return;
        }

        try
        {
            // Full: wait for room. Completing the queue (dispose) wakes the wait too.
            _queue.Writer.WriteAsync(@event).AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException)
        {
            // The supervisor is gone; nobody is left to act on it.
        }
    }

    private void PostAfter(SupervisorEvent @event, TimeSpan delay) => _ = PostAfterAsync(@event, delay);

    private async Task PostAfterAsync(SupervisorEvent @event, TimeSpan delay)
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

    /// <summary>Memory and CPU are sampled and the policies consulted every second, or at each load report if sooner.</summary>
    private async Task ProbePeriodicallyAsync()
    {
        var interval = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _context!.LoadReportInterval.Ticks));
        using var timer = new PeriodicTimer(interval, _clock);
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
            catch (Exception error) when (!_halted)
            {
                Halt(error, @event);
            }
            catch (Exception error)
            {
                SupervisorLog.LoopFailed(_logger, error, @event.GetType().Name);
            }
        }
    }

    private void Apply(SupervisorEvent @event)
    {
        switch (@event)
        {
            case ForkRequested(var worker, var environment): _operations!.Spawn(worker, environment); break;
            case WorkerStopRequested(var worker): _operations!.Drain(worker, StopReason.Requested); break;
            case ReloadRequested(var done): _restarts!.Forgive(); _replacements!.StartReload(done, _pool!.Desired); break;
            case StartWorkers: StartInitialWorkers(); break;
            case ScaleRequested(var min, var max): _pool!.SetBounds(min, max); break;
            case ScaleByRequested(var change): _pool!.ScaleBy(change); break;
            case StopRequested: _shutdown!.Begin(); break;
            case FastStopRequested: _shutdown!.KillEveryone(); break;
            case StopDeadline: _shutdown!.DeadlinePassed(); break;
            case ConnectionsFlushed: _shutdown!.ConnectionsFlushed(); break;
            case WorkerExited(var worker, var status): OnExited(worker, status); break;
            case RespawnDue(var restarts): _restarts!.RespawnDue(restarts); break;
            case ChannelOpened opened: opened.Claim.TrySetResult(Claim(opened)); break;
            case ChannelConnected(var worker): OnConnected(worker); break;
            case ChannelListening(var worker, var addresses): OnListening(worker, addresses); break;
            case LoadReported(var worker) when _health!.TakeLoad(worker) == false: _pool!.Scale(); break; // a load step, acted on at once
            case ChannelMessage(var worker, var message): worker.MessageHandled(); _observer.Message(worker, message); break;
            case ChannelStopping(var worker) when WorkerTable.Move(worker, WorkerTrigger.Drain): _operations!.Retire(worker); break;
            case ChannelClosed(var worker): OnChannelClosed(worker); break;
            case ProbeDue: _health!.Probe(); _pool!.Scale(); _rebalancer!.Rebalance(); _shutdown!.Check(); break;
            case DrainDeadline(var worker) when !worker.IsDead: SupervisorLog.DrainTimedOut(_logger, worker, _options.DrainTimeout.TotalSeconds); _operations!.Kill(worker, SignalNames.SIGKILL); break;
            case OrphanDeadline(var worker) when !worker.IsDead: SupervisorLog.Orphaned(_logger, worker); _operations!.Kill(worker, SignalNames.SIGKILL); break;
        }

        Publish();
    }

    private void StartInitialWorkers()
    {
        for (var i = 0; i < _pool!.Desired + _options.WarmSpares; i++)
        {
            _operations!.TryFork();
        }
    }

    /// <summary>Which worker a new channel belongs to: the starting one with the peer's pid, proven by its id and secret.</summary>
    private WorkerHandle? Claim(ChannelOpened opened)
    {
        var worker = _context!.Workers.FindStarting(opened.Pid);
        var refusal = worker is null ? "not a worker this primary started"
            : !ChannelListener.Proves(opened.Hello, worker) ? "wrong worker id or secret"
            : null;
        if (refusal is not null)
        {
            SupervisorLog.ChannelRefused(_logger, opened.Pid, refusal);
            return null;
        }

        // Claimed now, so a second channel from the same process is refused; online once it has its welcome.
        worker!.Channel = opened.Channel;
        return worker;
    }

    private void OnConnected(WorkerHandle worker)
    {
        if (WorkerTable.Move(worker, WorkerTrigger.Connected))
        {
            WorkerTable.Update(worker, view => view with { LastHeartbeatAt = _context!.Now });
            _observer.Online(worker);
        }
    }

    private void OnListening(WorkerHandle worker, IReadOnlyList<string> addresses)
    {
        var spare = !_replacements!.IsSuccessor(worker.Id) && _pool!.KeepsAsSpare();
        if (worker.Channel is not { } channel || !WorkerTable.Move(worker, spare ? WorkerTrigger.ListeningAsSpare : WorkerTrigger.Listening))
        {
            return;
        }

        WorkerTable.Update(worker, view => view with { ReadyAt = _context!.Now, ListeningAddresses = addresses });
        _context!.EverReady = true;
        if (!spare)
        {
            _context.Distribution.AddWorker(worker.Id, channel);
        }

        _observer.Ready(worker, spare ? ReadyRole.Spare : ReadyRole.Serving);
        _replacements.WorkerReady(worker);
        var ready = _context.Workers.CountIn(WorkerState.Ready);
        if (!_announcedReady && ready >= _options.InitialWorkers)
        {
            // The service is up once the initial workers all serve, not merely started.
            _announcedReady = true;
            _observer.ServiceReady(ready, Urls);
        }
    }

    private void OnExited(WorkerHandle worker, ExitStatus status)
    {
        var context = _context!;
        var othersServing = context.Workers.All.Any(other => other != worker && other.State == WorkerState.Ready);
        WorkerTable.Move(worker, WorkerTrigger.Exited);
        WorkerTable.Update(worker, view => view with { ExitStatus = status, StopReason = view.StopReason ?? StopReasons.Unasked(status) });
        context.Workers.Remove(worker);
        context.Distribution.RemoveWorker(worker.Id);
        _pool!.PromoteSpares();
        var replacement = _replacements!.TakeOutcome(worker);
        var restartIn = _restarts!.WorkerExited(worker, othersServing, replacement?.Outcome, out var crashLoop);
        _observer.Exited(worker, status, restartIn, replaced: replacement is not null || restartIn is not null);
        _replacements.Settle(worker, replacement);
        if (crashLoop is not null)
        {
            _replacements.Abandon(crashLoop);
            _observer.CrashLoop(crashLoop, context.EverReady, context.Workers.CountIn(WorkerState.Ready));
        }

        _replacements.Advance();
        _shutdown!.Check();
    }

    private void OnChannelClosed(WorkerHandle worker)
    {
        worker.Channel = null;
        _operations!.Retire(worker);
        _observer.Disconnected(worker);
        if (!worker.IsDead)
        {
            // A worker exits by itself when its channel closes; one that does not is killed.
            _context!.PostAfter(new OrphanDeadline(worker), OrphanGrace);
        }
    }

    /// <summary>A bug left the state unknown: stop cleanly (kill every worker, tell the host) rather than run on it, as gunicorn halts.</summary>
    private void Halt(Exception error, SupervisorEvent @event)
    {
        _halted = true;
        _stopping = true;
        SupervisorLog.LoopFailed(_logger, error, @event.GetType().Name);
        _observer.Halted($"the supervisor failed while handling {@event.GetType().Name}: {error.Message}");
        _shutdown!.KillEveryone();
        Publish();
    }

    private void Publish()
    {
        var (min, max) = _pool!.Bounds;
        _snapshot = new ClusterSnapshot(_context!.Workers.All.ToList(), _pool.Desired, min, max, _pool.Autoscaling, _restarts!.Count);
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

        if (_context is { } context)
        {
            // Stops accepting if a stop did not, and closes what no worker took (with a FIN, not a reset).
            context.Distribution.Dispose();
        }

        _channels?.Dispose();
        foreach (var endpoint in _endpoints)
        {
            endpoint.Dispose();
        }

        (_processes as IDisposable)?.Dispose();
        _lifetime.Dispose();
    }
}
