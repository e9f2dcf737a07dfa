using System.Threading.Channels;
using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>
/// The primary's one loop (gunicorn's arbiter): everything that happens — a worker spawned, reporting, exiting, a
/// timer falling due, an operator's command — arrives as a <see cref="SupervisorEvent"/> on one queue; the loop hands
/// each to the collaborator that owns that concern, then publishes a <see cref="ClusterSnapshot"/>. Only the loop writes
/// worker state. An exception in it is a bug: the cluster stops rather than run on half-applied state.
/// </summary>
internal sealed class SupervisorLoop
{
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(5);

    private readonly SupervisorContext _context;
    private readonly IClusterObserver _observer;
    private readonly WorkerOperations _operations;
    private readonly Restarts _restarts;
    private readonly Replacements _replacements;
    private readonly Health _health;
    private readonly WorkerProbes _probes;
    private readonly PoolSizer _pool;
    private readonly Rebalancer _rebalancer;
    private readonly Admissions _admissions;
    private readonly InPlaceUpgrade _upgrade;
    private readonly Adoption _adoption;
    private readonly IReadOnlyList<string> _urls;
    private volatile ClusterSnapshot _snapshot = ClusterSnapshot.Empty;
    private bool _halted;
    private DateTimeOffset _lastTickAt;

    public SupervisorLoop(
        SupervisorContext context, WorkerOperations operations, IProcessProbe probe, Action<SupervisorEvent> post, IReadOnlyList<string> urls, UpgradeSeams upgrade)
    {
        _context = context;
        _observer = context.Observer;
        _operations = operations;
        _urls = urls;
        _restarts = new Restarts(context, operations);
        _replacements = new Replacements(context, operations);
        _health = new Health(context, operations, _replacements, probe);
        _probes = new WorkerProbes(context, _replacements);
        _pool = new PoolSizer(context, operations, _restarts, _replacements, _health);
        _rebalancer = new Rebalancer(context);
        _admissions = new Admissions(context, _replacements, _pool, operations);
        _upgrade = new InPlaceUpgrade(context, _replacements, upgrade.Processes, upgrade.Endpoints, upgrade.Resume);
        _adoption = new Adoption(context, operations, upgrade.Processes, _replacements, () => _pool.Desired, upgrade.Command, upgrade.Resume);
        Shutdown = new ShutdownSequence(context, operations, _replacements, _pool, post);
        _lastTickAt = context.Now;
    }

    public ClusterSnapshot Snapshot => _snapshot;

    public ShutdownSequence Shutdown { get; }

    /// <summary>How the pool is sized, for the start-up line.</summary>
    public string Describe() => _pool.Describe();

    public async Task RunAsync(ChannelReader<SupervisorEvent> events)
    {
        await foreach (var @event in events.ReadAllAsync().ConfigureAwait(false))
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
                SupervisorLog.LoopFailed(_context.Logger, error, @event.GetType().Name);
            }
        }
    }

    private void Apply(SupervisorEvent @event)
    {
        switch (@event)
        {
            case StartWorkers: StartMissingWorkers(); break;
            case AdoptWorkers(var handover): _adoption.Adopt(handover); StartMissingWorkers(); _admissions.AnnounceServiceReady(_urls); break;
            case UpgradeRequested request: _upgrade.Begin(request); break;
            case UpgradeStep: _upgrade.Step(); break;
            case WorkerPaused(var worker): _upgrade.Paused(worker); break;
            case ForkRequested(var worker, var environment): _operations.Spawn(worker, environment); break;
            case WorkerStopRequested(var worker): _operations.Drain(worker, StopReason.Requested); break;
            case ReloadRequested(var done): _restarts.Forgive(); _replacements.StartReload(done, _pool.Desired); break;
            case ScaleRequested(var min, var max): _pool.SetBounds(min, max); break;
            case ScaleByRequested(var change): _pool.ScaleBy(change); break;
            case StopRequested: Shutdown.Begin(); break;
            case FastStopRequested: Shutdown.KillEveryone(); break;
            case StopDeadline: Shutdown.DeadlinePassed(); break;
            case ConnectionsFlushed: Shutdown.ConnectionsFlushed(); break;
            case WorkerExited(var worker, var status): OnExited(worker, status); break;
            case RespawnDue(var restarts): _restarts.RespawnDue(restarts); break;
            case ChannelOpened opened: _admissions.Claim(opened); break;
            case ChannelConnected(var worker): _admissions.Connected(worker); break;
            case ChannelListening(var worker, var addresses): _admissions.Listening(worker, addresses, _urls); break;
            case LoadReported(var worker) when _health.TakeLoad(worker) == false: _pool.Scale($"{worker}'s load report"); break; // a load step, acted on at once
            case ConnectionsWaiting: _pool.Scale("connections waiting for a worker", connectionWaits: true); break;
            case HealthAnswered(var worker, var probeId, var status): _probes.Answered(worker, probeId, status); break;
            case ChannelMessage(var worker, var message): worker.MessageHandled(); _observer.Message(worker, message); break;
            case ChannelStopping(var worker) when WorkerTable.Move(worker, WorkerTrigger.Drain): _operations.Retire(worker); break;
            case ChannelClosed(var worker): OnChannelClosed(worker); break;
            case WorkerUnresponsive(var id) when _context.Workers.Find(id) is { } worker: _operations.Terminate(worker, StopReason.Hung); break; // its connections go to others at once
            case ProbeDue: _lastTickAt = _context.Now; _health.Probe(); _probes.Tick(); _pool.Scale("the probe tick"); _rebalancer.Rebalance(); Shutdown.Check(); break;
            case DrainDeadline(var worker) when !worker.IsDead: KillLate(worker, "did not finish draining in time"); break;
            case OrphanDeadline(var worker) when !worker.IsDead: KillLate(worker, "lost its channel and did not exit"); break;
        }

        Publish();
    }

    /// <summary>The initial workers, or after an in-place upgrade those the adopted ones do not make up.</summary>
    private void StartMissingWorkers()
    {
        // Only what is missing: a connection that came before this event may have started one (ConnectionsWaiting).
        for (var i = _context.Workers.Count; i < _pool.Desired + _context.Options.WarmSpares; i++)
        {
            _operations.TryFork();
        }
    }

    private void OnExited(WorkerHandle worker, ExitStatus status)
    {
        WorkerTable.Move(worker, WorkerTrigger.Exited);
        WorkerTable.Update(worker, view => view with { ExitStatus = status, StopReason = view.StopReason ?? StopReasons.Unasked(status) });
        _context.Workers.Remove(worker);
        _context.Distribution.RemoveWorker(worker.Id);
        _pool.PromoteSpares();
        var replacement = _replacements.TakeOutcome(worker);
        var restartIn = _restarts.WorkerExited(worker, replacement?.Outcome, out var crashLoop);
        _observer.Exited(worker, status, restartIn, replaced: replacement is not null || restartIn is not null);
        _replacements.Settle(worker, replacement);
        if (crashLoop is not null)
        {
            _replacements.Abandon(crashLoop);
            _observer.CrashLoop(crashLoop, _context.EverReady, _context.Workers.CountIn(WorkerState.Ready));
        }

        _replacements.Advance();
        Shutdown.Check();
    }

    private void OnChannelClosed(WorkerHandle worker)
    {
        worker.Channel = null;
        _operations.Retire(worker);
        _observer.Disconnected(worker);
        if (!worker.IsDead)
        {
            // A worker exits by itself when its channel closes; one that does not is killed.
            _context.PostAfter(new OrphanDeadline(worker), OrphanGrace);
        }
    }

    private void KillLate(WorkerHandle worker, string why)
    {
        SupervisorLog.KilledLate(_context.Logger, worker, why);
        _operations.Kill(worker, SignalNames.SIGKILL);
    }

    /// <summary>A bug left the state unknown: stop cleanly (kill every worker, tell the host) rather than run on it, as gunicorn halts.</summary>
    private void Halt(Exception error, SupervisorEvent @event)
    {
        _halted = true;
        SupervisorLog.LoopFailed(_context.Logger, error, @event.GetType().Name);
        _observer.Halted($"the supervisor failed while handling {@event.GetType().Name}: {error.Message}");
        Shutdown.KillEveryone();
        Publish();
    }

    private void Publish()
    {
        var (min, max) = _pool.Bounds;
        var servesFromZero = min == 0 && _pool.Autoscaling && _context.EverReady && !_context.GaveUp;
        _snapshot = new ClusterSnapshot(
            _context.Workers.All.ToList(), _pool.Desired, min, max, _pool.Autoscaling, _restarts.Count, _lastTickAt, _context.Stopping, _replacements.Surging, servesFromZero);
    }
}

/// <summary>What the in-place upgrade needs beyond the loop's context: processes, the primary's sockets, the worker command, and resuming a paused channel.</summary>
internal sealed record UpgradeSeams(
    IWorkerProcesses Processes, WorkerCommand Command, Func<IReadOnlyList<Distribution.BoundEndpoint>> Endpoints, Action<WorkerHandle, Ipc.IpcChannel> Resume);
