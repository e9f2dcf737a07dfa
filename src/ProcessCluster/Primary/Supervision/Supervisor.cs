using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;
using ProcessCluster.Policies;
using ProcessCluster.Primary.Channels;

namespace ProcessCluster.Primary;

/// <summary>
/// The supervisor's face to the rest of the primary: it opens the sockets, starts <see cref="SupervisorLoop"/>, and
/// turns every call (fork, reload, scale, stop) and every timer into an event on the loop's one bounded queue.
/// </summary>
internal sealed class Supervisor : IWorkerOwner, IAsyncDisposable
{
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

    // By name, as this primary was started: a release symlink swapped since is followed by an in-place upgrade.
    private readonly string _directory = WorkerCommand.LogicalWorkingDirectory();
    private IReadOnlyList<BoundEndpoint> _endpoints = [];
    private UpgradeHandover.Received? _handover;
    private ChannelListener? _channels;
    private BackplaneRelay? _backplane;
    private SupervisorContext? _context;
    private WorkerOperations? _operations;
    private SupervisorLoop? _loop;
    private Task? _running;
    private volatile bool _stopping;
    private int _upgrading;
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

    /// <summary>SignalR backplane messages a worker did not get (its outbox was full, or it went away).</summary>
    public long BackplaneDropped => _backplane?.Dropped ?? 0;

    /// <summary>The cluster after the loop's last event.</summary>
    public ClusterSnapshot Snapshot => _loop?.Snapshot ?? ClusterSnapshot.Empty;

    /// <summary>Liveness and readiness for an orchestrator's probes, judged on the supervisor's clock.</summary>
    public ClusterHealth Health => ClusterHealthPolicy.Judge(Snapshot, _clock.GetUtcNow());

    /// <summary>The HAProxy agent's line now, judged on the supervisor's clock.</summary>
    public AgentAnswer Agent => AgentPolicy.Answer(AgentPolicy.Observe(Snapshot, _clock.GetUtcNow()));

    /// <summary>The addresses the cluster listens on, with real ports.</summary>
    public IReadOnlyList<string> Urls { get; private set; } = [];

    public int QueuedConnections => _context?.Distribution.Queued ?? 0;

    /// <summary>Events waiting for the loop.</summary>
    internal int PendingEvents => _queue.Reader.Count;

    /// <summary>Binds the endpoints, opens the workers' channel and starts the loop, which forks the initial workers.</summary>
    public void Start(IReadOnlyList<ClusterEndpoint> endpoints) => StartOn(ListenSockets.Open(endpoints, _options.Backlog, _options.Scheduling == SchedulingMode.ReusePort, _logger));

    /// <summary>Serves endpoints whose listening sockets are already open (the app's server opened them); from now on the supervisor owns them.</summary>
    public void StartOn(IReadOnlyList<BoundEndpoint> endpoints)
    {
        ProcessInterop.ResetIgnoredChildSignal();
        _handover = UpgradeHandover.Take();
        _endpoints = endpoints;
        Urls = _endpoints.Select(endpoint => endpoint.Url).ToList();
        IConnectionDistribution distribution = _options.Scheduling switch
        {
            SchedulingMode.RoundRobin => new RoundRobinDispatcher(
                _endpoints, _options.MaxPendingConnections, _options.MaxHandoffsInFlight, _options.Dispatch, 3 * SupervisorContext.FastLoadReports, _logger,
                affinity: _options.Affinity),
            SchedulingMode.ReusePort => new ReusePortDistribution(_endpoints, _options.Backlog),
            _ => new SharedDistribution(_endpoints),
        };
        var welcome = new Welcome(_options, _endpoints, distribution, SupervisorContext.ReportsLoad(_options));
        _channels = new ChannelListener(_options.MaxMessageBytes, Post, new WorkerChannelSession(welcome, distribution, _backplane = new BackplaneRelay(_logger), Post, _logger), _observer);
        var loop = Run(distribution, _channels.Name);
        SupervisorLog.Started(_logger, Environment.ProcessId, loop.Describe(), _options.Scheduling, string.Join(", ", Urls));
    }

    /// <summary>Starts the loop over <paramref name="distribution"/>, and the initial workers (tests call this directly).</summary>
    internal SupervisorLoop Run(IConnectionDistribution distribution, string channelName)
    {
        _context = new SupervisorContext(_options, _clock, distribution, _observer, _logger, PostAfter);
        _operations = new WorkerOperations(_context, _processes, _command, () => channelName, this, Post);
        var seams = new UpgradeSeams(_processes, _command, () => _endpoints, (worker, channel) => _channels?.Resume(worker, channel));
        _loop = new SupervisorLoop(_context, _operations, _probe, Post, Urls, seams);
        distribution.Unresponsive += workerId => Post(new WorkerUnresponsive(workerId));
        distribution.Waiting += () => Post(new ConnectionsWaiting());
        distribution.Start();
        // A lean primary's hand-over with no workers (not an upgrade) starts them as any first start does.
        Post(_handover is { Workers: not [] } handover ? new AdoptWorkers(handover) : new StartWorkers());
        _running = Task.Run(() => _loop.RunAsync(_queue.Reader));
        _ = ProbePeriodicallyAsync(_context.LoadReportInterval);
        return _loop;
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

    /// <summary>
    /// Re-executes this primary in place with the build on disk now (see <see cref="InPlaceUpgrade"/>): <paramref name="program"/>,
    /// or this process's own command line when null, after that build passed its check (its command line run with --check, placed by <paramref name="placeCheck"/>). Completes only when
    /// the upgrade did not happen, with why: when it does, this process runs the new build and this task is gone with it.
    /// </summary>
    public async Task<UpgradeResult> UpgradeAsync(WorkerCommand? program, Func<IReadOnlyList<string>, IReadOnlyList<string>>? placeCheck)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (Interlocked.Exchange(ref _upgrading, 1) == 1)
        {
            SupervisorLog.UpgradeAlreadyInProgress(_logger);
            return new UpgradeResult(UpgradeOutcome.Refused, "upgrade already in progress");
        }

        try
        {
            return await CheckThenUpgradeAsync(program ?? WorkerCommand.FromCurrentProcess(_directory), placeCheck).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _upgrading, 0);
        }
    }

    /// <summary>From an upgrade's start (its check of the new build) until it is called off; the exec ends this program.</summary>
    public bool UpgradeUnderWay => Volatile.Read(ref _upgrading) == 1;

    private async Task<UpgradeResult> CheckThenUpgradeAsync(WorkerCommand upgraded, Func<IReadOnlyList<string>, IReadOnlyList<string>>? placeCheck)
    {
        var program = upgraded with { WorkingDirectory = _directory };
        var environment = WorkerLauncher.CurrentEnvironment();
        // The check answers here, not to systemd.
        var checkEnvironment = environment.Where(variable => !variable.StartsWith(Control.SystemdNotifier.SocketVariable + "=", StringComparison.Ordinal)).ToList();
        var check = SelfCheck.For(program, placeCheck);
        if (await SelfCheck.RunAsync(check, checkEnvironment, _options.ReadyTimeout).ConfigureAwait(false) is { } failure)
        {
            var reason = $"the new build failed its check: {failure}";
            SupervisorLog.UpgradeCalledOff(_logger, reason);
            return new UpgradeResult(UpgradeOutcome.CheckFailed, reason);
        }

        var done = new TaskCompletionSource<UpgradeResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new UpgradeRequested(program, environment, done));
        return await done.Task.ConfigureAwait(false);
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
        if (_loop is not { } loop)
        {
            return true;
        }

        _stopping = true;
        Post(new StopRequested());
        try
        {
            return await loop.Shutdown.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Post(new StopDeadline());
            return await loop.Shutdown.Completion.ConfigureAwait(false);
        }
    }

    void IWorkerOwner.RequestStop(WorkerHandle worker) => Post(new WorkerStopRequested(worker));

    void IWorkerOwner.Signal(int pid, int signal) => _processes.Signal(pid, signal);

    long IWorkerOwner.Dispatched(int workerId) => _context?.Distribution.Dispatched(workerId) ?? 0;

    void IWorkerOwner.MessagesUnread(WorkerHandle worker)
    {
        SupervisorLog.MessagesUnread(_logger, worker.Id, RoundRobinDispatcher.DefaultUnresponsiveAfter.TotalSeconds);
        // This may run on the loop's thread (an app's handler sending): it must not wait for room in the loop's own queue.
        var unresponsive = new WorkerUnresponsive(worker.Id);
        if (!_queue.Writer.TryWrite(unresponsive))
        {
            _ = Task.Run(() => Post(unresponsive));
        }
    }

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
    private async Task ProbePeriodicallyAsync(TimeSpan loadReportInterval)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, loadReportInterval.Ticks)), _clock);
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

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        await _lifetime.CancelAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        if (_running is not null)
        {
            await _running.ConfigureAwait(false);
        }

        // Stops accepting if a stop did not, and closes what no worker took (with a FIN, not a reset).
        _context?.Distribution.Dispose();
        _channels?.Dispose();
        _backplane?.Dispose();
        foreach (var endpoint in _endpoints)
        {
            endpoint.Dispose();
        }

        (_processes as IDisposable)?.Dispose();
        _lifetime.Dispose();
    }
}
