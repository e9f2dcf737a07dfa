using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ProcessCluster.Control;
using ProcessCluster.Distribution;
using ProcessCluster.Policies;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Primary;

/// <summary>
/// The cluster as its primary sees it (Node's cluster module in the primary): start and stop, fork workers,
/// the live set of workers, and events. Handlers run on the supervisor loop, one at a time, in order;
/// an exception in a handler is logged and does not disturb the cluster.
/// </summary>
public sealed class ClusterPrimary : IAsyncDisposable, IClusterObserver
{
    private readonly Supervisor _supervisor;
    private readonly ClusterMetrics _metrics;
    private readonly ILogger _logger;
    private ControlServer? _control;
    private AgentServer? _agent;
    private DateTimeOffset _startedAt;

    /// <summary>A primary that has not started anything yet; its host starts it. Settings it cannot run with throw at once.</summary>
    /// <param name="options">The settings, validated here.</param>
    /// <param name="loggerFactory">Where the cluster logs.</param>
    /// <param name="command">How to start a worker; by default this process's own command line.</param>
    /// <param name="meterFactory">Where the cluster's meter comes from (the host's); without one the primary owns its meter.</param>
    public ClusterPrimary(ClusterOptions options, ILoggerFactory loggerFactory, WorkerCommand? command = null, IMeterFactory? meterFactory = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        Options = options;
        _logger = loggerFactory.CreateLogger("ProcessCluster.Primary");
        _metrics = new ClusterMetrics(() => Workers, () => DesiredWorkers, () => _supervisor!.Snapshot.MaxWorkers, () => _supervisor!.QueuedConnections, meterFactory, () => _supervisor!.BackplaneDropped);
        IClusterObserver[] observers =
        [
            new LogObserver(_logger, TimeProvider.System),
            new EventLogObserver(EventLog, TimeProvider.System),
            new MetricsObserver(_metrics),
            new SystemdObserver(SystemdNotifier.FromEnvironment()),
            this,
        ];
        command ??= WorkerCommand.FromCurrentProcess();
        command = command with { WorkingDirectory = options.WorkingDirectory ?? command.WorkingDirectory ?? WorkerCommand.LogicalWorkingDirectory() };
        _supervisor = new Supervisor(
            options, command, new ObserverList(observers, error => SupervisorLog.ObserverFailed(_logger, error)), _logger);
    }

    /// <summary>The settings the cluster runs with.</summary>
    public ClusterOptions Options { get; }

    /// <summary>The live workers, by id (Node's cluster.workers). A worker leaves the set when it has exited.</summary>
    public IReadOnlyList<WorkerHandle> Workers => _supervisor.Snapshot.Workers;

    /// <summary>The URLs the cluster listens on, with real ports (port 0 resolved).</summary>
    public IReadOnlyList<string> Urls => _supervisor.Urls;

    /// <summary>A worker process was started (Node's 'fork').</summary>
    public event EventHandler<WorkerEventArgs>? Forked;

    /// <summary>A worker connected back to the primary (Node's 'online').</summary>
    public event EventHandler<WorkerEventArgs>? Online;

    /// <summary>A worker's app listens on an address (Node's 'listening'); one event per address.</summary>
    public event EventHandler<WorkerListeningEventArgs>? Listening;

    /// <summary>A worker sent a message (Node's 'message').</summary>
    public event EventHandler<WorkerMessageEventArgs>? Message;

    /// <summary>A worker's channel to the primary closed (Node's 'disconnect').</summary>
    public event EventHandler<WorkerEventArgs>? Disconnected;

    /// <summary>A worker process ended, with its exit status and the reason (Node's 'exit').</summary>
    public event EventHandler<WorkerExitedEventArgs>? Exited;

    /// <summary>The desired worker count changed (autoscaling or a new bound), with the reason the policy gave.</summary>
    public event EventHandler<ClusterScaledEventArgs>? Scaled;

    /// <summary>
    /// The cluster cannot run: workers keep dying before they are ready and none ever was. The primary has stopped
    /// starting workers; a host should exit non-zero (the ASP.NET Core integration exits with code 3).
    /// </summary>
    public event EventHandler<ClusterFailedEventArgs>? Failed;

    /// <summary>
    /// A stop was asked for from outside the host (control socket, SIGQUIT). A host stops itself here (the ASP.NET Core
    /// integration does); with no handler the primary runs <see cref="StopAsync"/> itself.
    /// </summary>
    public event EventHandler? ShutdownRequested;

    /// <summary>Recent forks, exits (with reasons), scale decisions and reloads, newest last.</summary>
    public ClusterEventLog EventLog { get; } = new();

    /// <summary>The cluster now: settings in force, each worker's state and load, recent events.</summary>
    public ClusterStatus GetStatus()
    {
        var snapshot = _supervisor.Snapshot;
        var now = DateTimeOffset.UtcNow;
        return new ClusterStatus(
            Environment.ProcessId,
            _startedAt,
            Math.Round((now - _startedAt).TotalSeconds, 1),
            Options.Scheduling,
            Options.Dispatch,
            Urls,
            snapshot.DesiredWorkers,
            snapshot.MinWorkers,
            snapshot.MaxWorkers,
            snapshot.Autoscaling,
            _supervisor.QueuedConnections,
            snapshot.Restarts,
            snapshot.Workers.Select(worker => WorkerStatus.Of(worker, now)).ToList(),
            EventLog.Recent(50));
    }

    /// <summary>For /healthz/live and /healthz/ready: whether the supervisor loop turns, and whether the cluster takes traffic.</summary>
    internal ClusterHealth GetHealth() => _supervisor.Health;

    /// <summary>
    /// Asks for the cluster to stop: gracefully, or, when <paramref name="fast"/>, by killing every worker at once
    /// (gunicorn's SIGQUIT). See <see cref="ShutdownRequested"/>.
    /// </summary>
    public void RequestShutdown(bool fast)
    {
        if (fast)
        {
            _supervisor.StopFast();
        }

        if (ShutdownRequested is { } handler)
        {
            handler(this, EventArgs.Empty);
        }
        else
        {
            _ = StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Opens the listening sockets and forks <see cref="ClusterOptions.Workers"/> workers.</summary>
    public void Start(IReadOnlyList<ClusterEndpoint> endpoints)
    {
        _startedAt = DateTimeOffset.UtcNow;
        _supervisor.Start(endpoints);
        _control = OpenControlSocket();
        _agent = OpenAgent();
    }

    /// <summary>Forks the workers for listening sockets the app's server opened (the in-app primary's Kestrel); the cluster owns them from now on.</summary>
    internal void StartOn(IReadOnlyList<BoundEndpoint> endpoints)
    {
        _startedAt = DateTimeOffset.UtcNow;
        _supervisor.StartOn(endpoints);
        _control = OpenControlSocket();
        _agent = OpenAgent();
    }

    /// <summary>The control socket file, or null when there is none (Cluster:ControlSocket=off, or it could not be opened).</summary>
    public string? ControlSocket => _control?.Path;

    /// <summary>Spawns one more worker with extra environment variables (Node's cluster.fork(env)).</summary>
    public WorkerHandle Fork(IReadOnlyDictionary<string, string>? environment = null) => _supervisor.Fork(environment);

    /// <summary>
    /// Zero-downtime rolling reload: each ready worker is replaced by a new process started from the binary on disk —
    /// the new one first, and the old one drained only once the new one is ready; Cluster:ReloadConcurrency at a time.
    /// If a new worker fails to become ready, the reload stops there and the remaining old workers keep serving.
    /// </summary>
    public Task<ReloadResult> ReloadAsync(CancellationToken cancellationToken = default) => _supervisor.ReloadAsync(cancellationToken);

    /// <summary>
    /// Re-executes this primary in place with the build on disk (SIGUSR2, <c>dotnet-cluster upgrade</c>): same pid,
    /// the running workers kept (rolled by a reload if their code changed). Completes only when it did not happen.
    /// </summary>
    internal Task<UpgradeResult> UpgradeAsync() => _supervisor.UpgradeAsync(UpgradeProgram, CheckArguments);

    /// <summary>What an in-place upgrade executes; null: this process's own command line. A native lean primary runs the app's.</summary>
    internal WorkerCommand? UpgradeProgram { get; set; }

    /// <summary>An in-place upgrade has started (its check runs, or its workers pause) and has not been called off.</summary>
    internal bool UpgradeUnderWay => _supervisor.UpgradeUnderWay;

    /// <summary>Where --check goes in this primary's own command line for the new build's self-check; null: last.</summary>
    internal Func<IReadOnlyList<string>, IReadOnlyList<string>>? CheckArguments { get; set; }

    /// <summary>The worker count the cluster aims for now.</summary>
    public int DesiredWorkers => _supervisor.Snapshot.DesiredWorkers;

    /// <summary>Fixes the worker count at runtime (autoscaling off); surplus workers are drained, the youngest idle first.</summary>
    public void ScaleTo(int workers) => _supervisor.RequestScale(workers, workers);

    /// <summary>
    /// Adds (or, negative, removes) workers relative to the desired count when the change is applied, so changes asked
    /// for in a row add up; autoscaling off. The count stays between 1 and <see cref="Control.ScaleTarget.Limit"/>.
    /// </summary>
    public void ScaleBy(int change) => _supervisor.RequestScaleBy(change);

    /// <summary>Autoscales between new bounds from now on (min = max fixes the count).</summary>
    public void SetWorkerBounds(int min, int max) => _supervisor.RequestScale(min, max);

    /// <summary>
    /// Graceful stop; returns when every worker has exited: true when all of them finished draining, false when some
    /// had to be killed at the drain timeout.
    /// </summary>
    public Task<bool> StopAsync(CancellationToken cancellationToken) => _supervisor.StopAsync(cancellationToken);

    /// <summary>
    /// Closes the control socket, the listening sockets and the workers' channels (a worker whose channel closes exits).
    /// Call <see cref="StopAsync"/> first for a graceful stop.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_control is { } control)
        {
            await control.DisposeAsync().ConfigureAwait(false);
        }

        if (_agent is { } agent)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
        }

        await _supervisor.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
    }

    /// <summary>A cluster without its control socket still serves: a failure to open it is logged, not fatal.</summary>
    private ControlServer? OpenControlSocket()
    {
        if (string.Equals(Options.ControlSocket, "off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var path = Options.ControlSocket ?? ControlSocketPath.ForPid(Environment.ProcessId);
        try
        {
            var server = new ControlServer(path, new ControlCommands(this, _logger).HandleAsync, _logger);
            _logger.LogInformation("Control socket {Path} (dotnet cluster status --pid {Pid})", path, Environment.ProcessId);
            return server;
        }
        catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            _logger.LogError("Could not open the control socket {Path}: {Error}; the cluster runs without it", path, error.Message);
            return null;
        }
    }

    /// <summary>
    /// The HAProxy agent (Cluster:AgentUrl). HAProxy treats an agent it cannot reach as saying nothing and goes on with
    /// its health checks, so a port already taken is logged, not fatal, like the control socket.
    /// </summary>
    private AgentServer? OpenAgent()
    {
        if (Options.AgentUrl is not { } url)
        {
            return null;
        }

        try
        {
            var agent = new AgentServer(url, () => _supervisor.Agent.ToString());
            _logger.LogInformation("HAProxy agent on {Urls}", string.Join(", ", agent.Urls));
            return agent;
        }
        catch (System.Net.Sockets.SocketException error)
        {
            _logger.LogError("Could not open the HAProxy agent on {Url}: {Error}; the cluster runs without it", url, error.Message);
            return null;
        }
    }

    void IClusterObserver.Forked(WorkerHandle worker) => Raise(Forked, new WorkerEventArgs(worker));

    void IClusterObserver.Online(WorkerHandle worker) => Raise(Online, new WorkerEventArgs(worker));

    void IClusterObserver.Ready(WorkerHandle worker, ReadyRole role)
    {
        if (role != ReadyRole.PromotedFromSpare)
        {
            foreach (var address in worker.ListeningAddresses)
            {
                Raise(Listening, new WorkerListeningEventArgs(worker, address));
            }
        }
    }

    void IClusterObserver.Message(WorkerHandle worker, JsonElement message) => Raise(Message, new WorkerMessageEventArgs(worker, message));

    void IClusterObserver.Disconnected(WorkerHandle worker) => Raise(Disconnected, new WorkerEventArgs(worker));

    void IClusterObserver.Exited(WorkerHandle worker, ExitStatus status, TimeSpan? restartIn, bool replaced) =>
        Raise(Exited, new WorkerExitedEventArgs(worker, status));

    void IClusterObserver.Scaled(int from, int to, string why) => Scaled?.Invoke(this, new ClusterScaledEventArgs(from, to, why));

    void IClusterObserver.CrashLoop(string reason, bool everReady, int serving)
    {
        if (!everReady)
        {
            Failed?.Invoke(this, new ClusterFailedEventArgs(reason));
        }
    }

    void IClusterObserver.Halted(string reason) => Failed?.Invoke(this, new ClusterFailedEventArgs(reason));

    private void Raise<T>(EventHandler<T>? handler, T args)
        where T : WorkerEventArgs
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception error)
        {
            _logger.LogError(error, "An event handler for {Worker} failed", args.Worker);
        }
    }
}
