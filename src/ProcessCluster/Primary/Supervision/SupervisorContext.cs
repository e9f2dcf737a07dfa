using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;

namespace ProcessCluster.Primary;

/// <summary>
/// What the supervisor's collaborators share: settings, the clock, the worker table, the distribution of connections,
/// the one observer of facts, and the few cluster-wide flags. Everything here is read and written on the loop only.
/// </summary>
internal sealed class SupervisorContext(
    ClusterOptions options,
    TimeProvider clock,
    IConnectionDistribution distribution,
    IClusterObserver observer,
    ILogger logger,
    Action<SupervisorEvent, TimeSpan> postAfter)
{
    public ClusterOptions Options { get; } = options;

    public TimeProvider Clock { get; } = clock;

    public DateTimeOffset Now => Clock.GetUtcNow();

    public WorkerTable Workers { get; } = new();

    public IConnectionDistribution Distribution { get; } = distribution;

    public IClusterObserver Observer { get; } = observer;

    public ILogger Logger { get; } = logger;

    /// <summary>Hands an event to the loop after a delay (a deadline, a respawn after backoff).</summary>
    public void PostAfter(SupervisorEvent @event, TimeSpan delay) => postAfter(@event, delay);

    /// <summary>The cluster is shutting down: nothing new starts unless the shutdown itself needs it.</summary>
    public bool Stopping { get; set; }

    /// <summary>A crash loop stopped restarts, until a reload.</summary>
    public bool GaveUp { get; set; }

    /// <summary>Some worker has been ready at least once: a later crash loop does not mean the app cannot boot.</summary>
    public bool EverReady { get; set; }

    /// <summary>
    /// How often workers report load: twice a second when the scaler, least-busy dispatch or rebalancing reads the
    /// reports (a busy fraction needs two reports, so this bounds how soon a load step is seen), else with each heartbeat.
    /// </summary>
    public TimeSpan LoadReportInterval => ReportsLoad(Options) ? FastLoadReports : Options.HeartbeatInterval;

    public static bool ReportsLoad(ClusterOptions options) => options.Autoscaling || options.Scheduling == SchedulingMode.RoundRobin;

    public static readonly TimeSpan FastLoadReports = TimeSpan.FromMilliseconds(500);
}
