namespace ProcessCluster;

/// <summary>Every cluster setting, bound from the configuration section "Cluster" (Cluster__Workers, --Cluster:Workers, ...).</summary>
public sealed partial class ClusterOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Cluster";

    /// <summary>False runs the app as one plain process, as if it were not a cluster (for debugging, or a baseline).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>A fixed number of workers. Unset, the cluster sizes itself between <see cref="MinWorkers"/> and <see cref="MaxWorkers"/>.</summary>
    public int? Workers { get; set; }

    private int? _minWorkers;

    /// <summary>
    /// The fewest workers the cluster scales down to, and how many it starts with (at least 1). Unset: 2 on a machine
    /// with 2 CPUs or more (never above <see cref="MaxWorkers"/>), 1 on one CPU, so that one crash never leaves no
    /// worker serving: isolation is why a cluster runs at all. 0 scales an idle cluster to zero: after
    /// <see cref="ScaleDownWindow"/> without a request the last worker drains; the primary keeps listening, and the
    /// first connection starts a worker and waits for it (slower, not refused).
    /// </summary>
    public int MinWorkers
    {
        get => _minWorkers ?? Math.Max(1, Math.Min(DefaultMinWorkers(Environment.ProcessorCount), MaxWorkers));
        set => _minWorkers = value;
    }

    /// <summary>The default floor of an autoscaling cluster on a machine with this many CPUs.</summary>
    internal static int DefaultMinWorkers(int processorCount) => processorCount >= 2 ? 2 : 1;

    /// <summary>The most workers the cluster scales up to.</summary>
    public int MaxWorkers { get; set; } = Environment.ProcessorCount;

    /// <summary>Workers started at first: at least one, so that a cluster that may idle at zero still proves its app starts.</summary>
    public int InitialWorkers => Workers ?? Math.Max(1, MinWorkers);

    /// <summary>True when the cluster sizes itself: no fixed <see cref="Workers"/>, and room between the bounds.</summary>
    public bool Autoscaling => Workers is null && MinWorkers < MaxWorkers;

    /// <summary>The busy fraction (time with a request in flight) the scaler aims for in each worker.</summary>
    public double ScaleTargetBusy { get; set; } = 0.6;

    /// <summary>No scaling while utilisation / target is within 1 ± this.</summary>
    public double ScaleTolerance { get; set; } = 0.1;

    /// <summary>Scale down only when every recommendation over this window was lower (one worker at a time).</summary>
    public TimeSpan ScaleDownWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A new worker's load is ignored this long after it is ready (JIT, cold caches).</summary>
    public TimeSpan ScaleWarmUp { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>This many connections waiting in the primary (RoundRobin) scale up without waiting for measurements.</summary>
    public int ScaleQueueFastPath { get; set; } = 64;

    /// <summary>
    /// A worker reporting this many requests in flight at once counts as fully busy on that one report, so the scaler
    /// adds workers at once rather than after a whole busy-fraction sample. Workers report when their count reaches a
    /// power of two, so a power of two is seen soonest.
    /// </summary>
    public int ScaleInFlightFastPath { get; set; } = 8;

    /// <summary>No worker is added while the machine has less free memory than this (MemAvailable).</summary>
    public int ScaleMinFreeMemoryMb { get; set; } = 256;

    /// <summary>
    /// Workers started and ready but kept out of dispatch (RoundRobin scheduling only): when a serving worker dies, a
    /// spare takes its place at once instead of after a restart, and the restarted worker becomes the new spare.
    /// </summary>
    public int WarmSpares { get; set; }

    /// <summary>
    /// A path every new worker asks itself for before it reports ready (IIS's Application Initialization), so the first
    /// client it serves does not wait for the request path to be compiled. Plain HTTP on its first endpoint, RoundRobin
    /// scheduling only; off when empty.
    /// </summary>
    public string? WarmupPath { get; set; }

    /// <summary>
    /// The app's own health check (e.g. MapHealthChecks("/healthz")), asked of each ready worker through its own channel:
    /// <see cref="WorkerHealthFailures"/> failures in a row take the worker out of dispatch and replace it (reason
    /// "health"). ASP.NET Core workers, RoundRobin scheduling only; off when empty.
    /// </summary>
    public string? WorkerHealthPath { get; set; }

    /// <summary>How often each ready worker's <see cref="WorkerHealthPath"/> is probed.</summary>
    public TimeSpan WorkerHealthInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A probe not answered within this (checked about once a second) is a failure, as is a non-2xx answer.</summary>
    public TimeSpan WorkerHealthTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Failed probes in a row that make a worker unhealthy.</summary>
    public int WorkerHealthFailures { get; set; } = 3;

    /// <summary>How the primary picks the worker for a connection (RoundRobin scheduling).</summary>
    public DispatchMode Dispatch { get; set; } = DispatchMode.RoundRobin;

    /// <summary>
    /// Which connections go back to one worker (RoundRobin scheduling): none (default), those carrying a worker's
    /// connection token (SignalR with ProcessCluster.SignalR), or all of one client address. See <see cref="AffinityMode"/>.
    /// </summary>
    public AffinityMode Affinity { get; set; } = AffinityMode.None;

    /// <summary>
    /// Who accepts connections: the primary, handing each to a worker (RoundRobin), every worker on a shared socket
    /// (Shared), or each worker on its own socket of an SO_REUSEPORT group that a BPF program balances (ReusePort, Linux).
    /// </summary>
    public SchedulingMode Scheduling { get; set; } = SchedulingMode.RoundRobin;

    /// <summary>Accepted connections the primary holds while no worker can take them; past this it stops accepting.</summary>
    public int MaxPendingConnections { get; set; } = 1024;

    /// <summary>
    /// Connections handed to one worker and not yet acknowledged; the primary keeps its copy of each until then. Under
    /// a burst of new connections a worker takes a batch per wake-up up to this bound: at 8, the workers spent a quarter
    /// more CPU per connection than at 32 (bench/RESULTS.md); a hung worker holds at most this many until it is killed.
    /// </summary>
    public int MaxHandoffsInFlight { get; set; } = 32;

    /// <summary>The listen backlog of the sockets the primary opens.</summary>
    public int Backlog { get; set; } = 511;

    /// <summary>The largest frame on the primary–worker channel; a larger one drops the channel.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a stopping worker may take to finish its requests before it is killed.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a new worker may take to start listening; past this it is killed (and a reload step fails).</summary>
    public TimeSpan ReadyTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The directory every worker starts in, by name, so that a symlink in it is followed at each fork (a release
    /// layout's current/). Unset: the primary's working directory by the name it was entered with ($PWD).
    /// </summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>How many workers a rolling reload replaces at once (each new one started before its old one drains).</summary>
    public int ReloadConcurrency { get; set; } = 1;

    /// <summary>
    /// The first restart delay after a worker dies early (before it was ready, or younger than <see cref="MinUptime"/>);
    /// it doubles with each death in a row. A worker that was ready and served is replaced at once.
    /// </summary>
    public TimeSpan RestartDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest the restart delay grows to, however many deaths in a row.</summary>
    public TimeSpan MaxRestartDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>A worker that ran this long before dying resets the restart delay to <see cref="RestartDelay"/>.</summary>
    public TimeSpan StableUptime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A worker that dies before it is ready or younger than this counts against <see cref="CrashLoopLimit"/>.</summary>
    public TimeSpan MinUptime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>More early deaths than this within <see cref="CrashLoopWindow"/> and the primary stops restarting workers.</summary>
    public int CrashLoopLimit { get; set; } = 10;

    /// <summary>The sliding window in which early deaths are counted against <see cref="CrashLoopLimit"/>.</summary>
    public TimeSpan CrashLoopWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often a worker's thread pool reports that it is alive.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A worker silent this long is hung: it is killed and replaced.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Recycle a worker after this many requests (0: never), plus up to <see cref="MaxRequestsJitter"/> of it.</summary>
    public long MaxRequests { get; set; }

    /// <summary>Each worker's limit is MaxRequests × (1 + a random share up to this), so workers do not recycle together.</summary>
    public double MaxRequestsJitter { get; set; } = 0.1;

    /// <summary>Recycle a worker whose resident memory exceeds this many MiB (0: never). Sampled every second.</summary>
    public int MaxMemoryMb { get; set; }

    /// <summary>Recycle a worker after it has run this long (zero: never).</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.Zero;

    /// <summary>No worker is recycled before it has been ready this long, so recycling cannot loop.</summary>
    public TimeSpan RecycleMinLifetime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The control socket (a Unix socket for the dotnet-cluster CLI). Unset: <c>$XDG_RUNTIME_DIR/processcluster/PID.sock</c>
    /// (or <c>/tmp/processcluster-UID/PID.sock</c>); "off" opens none.
    /// </summary>
    public string? ControlSocket { get; set; }

    /// <summary>
    /// The primary's admin endpoint (dashboard, /metrics, /api/status), e.g. http://127.0.0.1:9090 (port 0 picks one and
    /// logs it). Unset: none.
    /// </summary>
    public string? AdminUrl { get; set; }

    /// <summary>
    /// The HAProxy agent, e.g. tcp://0.0.0.0:9101: each connection reads one line for HAProxy's agent-check ("ready 75%",
    /// "drain", "maint") and is closed. Unset: none.
    /// </summary>
    public string? AgentUrl { get; set; }

    /// <summary>
    /// A bearer token the admin endpoint requires; required (or <see cref="AdminTokenFile"/>) when <see cref="AdminUrl"/>
    /// is not a loopback address.
    /// </summary>
    public string? AdminToken { get; set; }

    /// <summary>
    /// A file holding <see cref="AdminToken"/> (surrounding whitespace ignored), so that the token need not be on a
    /// command line, where any local user can read it, or in the environment the workers inherit.
    /// </summary>
    public string? AdminTokenFile { get; set; }

    /// <summary>
    /// Whether a setting's key (<c>Cluster:AdminToken</c>) or environment variable (<c>Cluster__AdminToken</c>, any case)
    /// is the admin token: the primary's alone, never handed to its workers.
    /// </summary>
    internal static bool IsAdminToken(string key) =>
        key.Replace("__", ":", StringComparison.Ordinal).Equals($"{SectionName}:{nameof(AdminToken)}", StringComparison.OrdinalIgnoreCase);

    /// <summary>How the primary writes its log and its workers' output lines: Text, or Json (one object per line).</summary>
    public LogFormat LogFormat { get; set; } = LogFormat.Text;

    /// <summary>
    /// The in-app primary (UseCluster()) hands over to a lean primary once its host has done what only the app's host
    /// can do (bind the endpoints as the app configures Kestrel, resolve these settings after every Configure): it
    /// re-executes itself in place (same pid) with the listening sockets and the settings inherited, and runs the
    /// supervisor alone, as dotnet-cluster run does, without the app's host, services or ASP.NET Core (about 20 MiB
    /// less). Off by default because the app's code does not run in that primary: handlers on ClusterPrimary's events,
    /// logging providers and meter listeners configured in code stay in the workers; the primary logs to the console
    /// by the "Logging" section and <see cref="LogFormat"/>. Ignored by a native AOT app (no startup hooks; already lean).
    /// </summary>
    public bool LeanPrimary { get; set; }

    /// <summary>
    /// With <see cref="LeanPrimary"/>: a dotnet-cluster published with native AOT (an absolute path) to hand over to,
    /// instead of the app's own runtime with a startup hook. A native primary holds no runtime, JIT or framework code:
    /// about 20 MiB, a third of the in-app primary and under Node's. Unset: the startup hook.
    /// </summary>
    public string? LeanPrimaryProgram { get; set; }

    /// <summary>The admin token, from <see cref="AdminToken"/> or read from <see cref="AdminTokenFile"/>; null or empty when none is set.</summary>
    /// <exception cref="InvalidOperationException">Both are set.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    internal string? ReadAdminToken()
    {
        if (string.IsNullOrEmpty(AdminTokenFile))
        {
            return AdminToken;
        }

        return string.IsNullOrEmpty(AdminToken)
            ? File.ReadAllText(AdminTokenFile).Trim()
            : throw new InvalidOperationException($"{SectionName}:{nameof(AdminToken)} and {SectionName}:{nameof(AdminTokenFile)} are both set; set one");
    }
}
