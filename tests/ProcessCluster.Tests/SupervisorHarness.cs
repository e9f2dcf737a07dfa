using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ProcessCluster.Distribution;
using ProcessCluster.Ipc;
using ProcessCluster.Primary;
using ProcessCluster.Primary.Channels;

namespace ProcessCluster.Tests;

/// <summary>
/// A supervisor on a fake clock with fake processes (pids that no process has) and a fake distribution: a test plays
/// the workers' lives (connect, listen, exit) and reads what the supervisor decided. Workers connect over real Unix
/// sockets through the real channel session, so what they report takes the primary's real path.
/// </summary>
internal sealed class SupervisorHarness : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly List<IDisposable> _owned = [];

    /// <param name="log">The supervisor's log (default: none).</param>
    /// <param name="heldAtStart">Connections already waiting when the distribution starts, before the loop's first event.</param>
    public SupervisorHarness(ClusterOptions options, ILogger? log = null, int heldAtStart = 0)
    {
        Options = options;
        Distribution.HeldAtStart = heldAtStart;
        Supervisor = new Supervisor(options, new WorkerCommand("/nonexistent", []), Observer, log ?? NullLogger.Instance, Processes, new FakeProbe(), Clock);
        Supervisor.Run(Distribution, "test-channel");
    }

    public ClusterOptions Options { get; }

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));

    public FakeProcesses Processes { get; } = new();

    public FakeDistribution Distribution { get; } = new();

    public RecordingObserver Observer { get; } = new();

    public Supervisor Supervisor { get; }

    public IReadOnlyList<WorkerHandle> Workers => Supervisor.Snapshot.Workers;

    /// <summary>Waits (in real time, bounded) until the snapshot satisfies <paramref name="condition"/>.</summary>
    public Task UntilAsync(Func<ClusterSnapshot, bool> condition, string what) => Eventually.UntilAsync(
        () => condition(Supervisor.Snapshot),
        () => $"{what} (workers: {string.Join(", ", Supervisor.Snapshot.Workers.Select(worker => $"{worker.Id} {worker.State}"))}; facts: {string.Join("; ", Observer.Facts)})",
        Deadline);

    /// <summary>The worker with this id, once the loop has spawned it.</summary>
    public async Task<WorkerHandle> SpawnedAsync(int id)
    {
        await UntilAsync(snapshot => snapshot.Workers.Any(worker => worker.Id == id && worker.ProcessId > 0), $"worker {id} spawned");
        return Workers.Single(worker => worker.Id == id);
    }

    /// <summary>
    /// Plays a worker's Hello, with its id and secret and the given protocol and library version, on a new channel;
    /// returns the worker the loop claimed the channel for (null: refused) and both ends.
    /// </summary>
    public async Task<(WorkerHandle? Claimed, IpcChannel Primary, IpcChannel Worker)> HelloAsync(int id, int protocol = ChannelProtocol.Version, string? library = null)
    {
        var worker = await SpawnedAsync(id);
        var (primaryEnd, workerEnd) = UnixSocketPair.Create();
        var primary = Own(new IpcChannel(primaryEnd, Options.MaxMessageBytes));
        var channel = Own(new IpcChannel(workerEnd, Options.MaxMessageBytes));
        var claim = new TaskCompletionSource<WorkerHandle?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Supervisor.Post(new ChannelOpened(worker.ProcessId, new HelloMessage(worker.Id, worker.Secret, protocol, library ?? ChannelProtocol.Library), primary, claim));
        return (await claim.Task.WaitAsync(Deadline), primary, channel);
    }

    /// <summary>Plays a worker's start: its channel opens, is claimed and welcomed, and the app reports it listens.</summary>
    public async Task<IpcChannel> ReadyAsync(int id, ILogger? sessionLog = null, string? library = null)
    {
        var (claimed, primary, channel) = await HelloAsync(id, library: library);
        var worker = Workers.Single(worker => worker.Id == id);
        Assert.Same(worker, claimed);
        var session = new WorkerChannelSession(new Welcome(Options, [], Distribution, reportsLoad: true), Distribution, new BackplaneRelay(NullLogger.Instance), Supervisor.Post, sessionLog ?? NullLogger.Instance);
        new Thread(() => session.Run(worker, primary)) { IsBackground = true }.Start();
        channel.SendJson(FrameType.Listening, new ListeningMessage(["http://127.0.0.1:1"]), IpcJson.Default.ListeningMessage);
        // Announced, rather than in state Ready: a worker may drain at once (a stop waiting for it).
        await UntilAsync(_ => Observer.Facts.Any(fact => fact.StartsWith($"ready {id} ", StringComparison.Ordinal)), $"worker {id} ready");
        return channel;
    }

    /// <summary>Sends a load report on the worker's channel and waits until the loop has taken it in (a newer one would replace it).</summary>
    public async Task ReportLoadAsync(IpcChannel channel, int id, WorkerLoadReport report)
    {
        var payload = new byte[FrameFormat.HeartbeatSize];
        FrameFormat.WriteHeartbeat(payload, report);
        channel.Send(FrameType.LoadReport, payload);
        await UntilAsync(_ => Workers.Single(worker => worker.Id == id).View.Load == report, $"worker {id}'s report at {report.ClockMicroseconds} µs taken in");
    }

    /// <summary>The worker's process ends as given; the supervisor hears it as from a reaper.</summary>
    public void Exit(WorkerHandle worker, ExitStatus status) => Processes.Exit(worker.ProcessId, status);

    public async ValueTask DisposeAsync()
    {
        await Supervisor.DisposeAsync();
        _owned.ForEach(owned => owned.Dispose());
    }

    private T Own<T>(T owned)
        where T : IDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    /// <summary>Processes that are only pids (far above any real pid limit); signals are recorded, exits are played.</summary>
    internal sealed class FakeProcesses : IWorkerProcesses
    {
        private readonly ConcurrentDictionary<int, Action<ExitStatus>> _running = new();
        private int _lastPid = 100_000_000;

        public ConcurrentQueue<(int Pid, int Signal)> Signals { get; } = new();

        public int Spawned => _lastPid - 100_000_000;

        public int Spawn(WorkerCommand command, int workerId, IEnumerable<KeyValuePair<string, string>> environment, Action<ExitStatus> onExit)
        {
            var pid = Interlocked.Increment(ref _lastPid);
            _running[pid] = onExit;
            return pid;
        }

        public void Signal(int pid, int signal) => Signals.Enqueue((pid, signal));

        public void Adopt(int pid, int workerId, int stdout, int stderr, Action<ExitStatus> onExit) => _running[pid] = onExit;

        public (int Stdout, int Stderr) OutputOf(int pid) => (-1, -1);

        public IReadOnlyList<int> KillStrays(IReadOnlySet<int> adopted) => [];

        public void Exit(int pid, ExitStatus status)
        {
            if (_running.TryRemove(pid, out var onExit))
            {
                onExit(status);
            }
        }
    }

    private sealed class FakeProbe : IProcessProbe
    {
        public long? ResidentBytes(int pid) => 50L << 20;

        public TimeSpan? CpuTime(int pid) => null;

        public long? AvailableMemoryBytes() => 8L << 30;
    }

    /// <summary>
    /// Connections the primary holds, as a count: a worker that becomes ready takes them all, and a stop is flushed
    /// once none is held.
    /// </summary>
    internal sealed class FakeDistribution : IConnectionDistribution
    {
        private readonly TaskCompletionSource _flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile int _queued;
        private volatile bool _stopped;
        private int _serving;

        public int Queued { get => _queued; set => _queued = value; }

        public bool CanShed => false;

        public event Action<int>? Unresponsive
        {
            add { }
            remove { }
        }

        public event Action? Waiting;

        public ConcurrentQueue<int> Added { get; } = new();

        /// <summary>Connections arrive and wait for a worker, as the acceptor (or the shared sockets' watcher) would say.</summary>
        public void Hold(int connections)
        {
            _queued = connections;
            Waiting?.Invoke();
        }

        public ConcurrentQueue<int> Retired { get; } = new();

        public int HeldAtStart { get; set; }

        public void Start()
        {
            if (HeldAtStart > 0)
            {
                Hold(HeldAtStart);
            }
        }

        /// <summary>Whether accepting is paused for an in-place upgrade.</summary>
        public bool Paused { get; private set; }

        public void PauseAccepting() => Paused = true;

        public void ResumeAccepting() => Paused = false;

        public int HandOutHeld() => _queued;

        public int[] ListenFdsFor(int workerId) => [];

        public void AddWorker(int workerId, IpcChannel channel)
        {
            Added.Enqueue(workerId);
            Interlocked.Increment(ref _serving);
            _queued = 0;
            FlushIfStopped();
        }

        public void Retire(int workerId) => Retired.Enqueue(workerId);

        public void RemoveWorker(int workerId) => Interlocked.Decrement(ref _serving);

        public void Shedding(int workerId, int connections, TimeSpan within)
        {
        }

        public void OnLoadReport(int workerId, int requestsInFlight)
        {
        }

        /// <summary>Set, a bug on cue: acknowledgements throw it on the channel's thread.</summary>
        public Exception? AckFault { get; set; }

        public void OnAcks(int workerId, IReadOnlyList<(long ConnectionId, bool Accepted)> acks)
        {
            if (AckFault is { } fault)
            {
                throw fault;
            }
        }

        public long Dispatched(int workerId) => 0;

        public Task StopAcceptingAsync()
        {
            _stopped = true;
            if (Volatile.Read(ref _serving) > 0)
            {
                _queued = 0;
            }

            FlushIfStopped();
            return _flushed.Task;
        }

        public void Dispose()
        {
        }

        private void FlushIfStopped()
        {
            if (_stopped && _queued == 0)
            {
                _flushed.TrySetResult();
            }
        }
    }

    /// <summary>The facts the supervisor announced, in order.</summary>
    internal sealed class RecordingObserver : IClusterObserver
    {
        public ConcurrentQueue<string> Facts { get; } = new();

        public ConcurrentQueue<ReloadResult> Reloads { get; } = new();

        public void Ready(WorkerHandle worker, ReadyRole role) => Facts.Enqueue($"ready {worker.Id} {role}");

        public void Exited(WorkerHandle worker, ExitStatus status, TimeSpan? restartIn, bool replaced) =>
            Facts.Enqueue($"exited {worker.Id}{(restartIn is { } delay ? $" restart in {delay.TotalMilliseconds:0} ms" : "")}");

        public void Scaled(int from, int to, string why) => Facts.Enqueue($"scaled {from} -> {to}");

        public void ReloadFinished(ReloadResult result) => Reloads.Enqueue(result);

        public void CrashLoop(string reason, bool everReady, int serving) => Facts.Enqueue($"crash loop, ever ready {everReady}, {serving} serving");

        public void Halted(string reason) => Facts.Enqueue($"halted: {reason}");

        /// <summary>Set, the app's message handler is slow: it holds the loop until this is set.</summary>
        public ManualResetEventSlim? HoldMessages { get; set; }

        /// <summary>The application messages handled, each one's text, in order.</summary>
        public ConcurrentQueue<string> Messages { get; } = new();

        public void Message(WorkerHandle worker, JsonElement message)
        {
            Messages.Enqueue(message.GetRawText());
            HoldMessages?.Wait();
        }
    }
}
