using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// This process as a worker of a cluster (Node's cluster.worker): its id, messages to and from the primary, and the
/// primary's request that it stop. The worker dies with its primary: see <see cref="PrimaryConnection"/>.
/// </summary>
public sealed class ClusterWorker : IPrimaryFrameHandler
{
    private readonly PrimaryConnection _primary;
    private readonly MessageDelivery _messages;
    private readonly DisconnectRequest _disconnect;

    // Held, not read: a timer no longer referenced is collected and stops.
    private readonly HeartbeatSender _heartbeats;
    private readonly HttpMetricsReporter? _httpMetrics;

    private ClusterWorker(PrimaryConnection primary, ILogger logger)
    {
        var welcome = primary.Welcome;
        _primary = primary;
        Id = welcome.WorkerId;
        Scheduling = welcome.Scheduling;
        _messages = new MessageDelivery(this, Id, logger);
        _disconnect = new DisconnectRequest(this, Id, logger);
        Endpoints = new WorkerEndpoints(welcome, primary.SharedFds, new AckBatcher(primary).Acknowledge);
        _heartbeats = new HeartbeatSender(
            primary,
            Load,
            TimeSpan.FromMilliseconds(welcome.HeartbeatIntervalMs),
            welcome.LoadReportIntervalMs > 0 ? TimeSpan.FromMilliseconds(welcome.LoadReportIntervalMs) : null);
        _httpMetrics = welcome.HttpMetricsIntervalMs > 0 ? new HttpMetricsReporter(primary, TimeSpan.FromMilliseconds(welcome.HttpMetricsIntervalMs)) : null;
    }

    /// <summary>The worker's id, from 1, unique for the primary's lifetime.</summary>
    public int Id { get; }

    /// <summary>How the primary gets connections to this worker: handed over (RoundRobin), on a shared socket (Shared) or on its own socket of a SO_REUSEPORT group (ReusePort).</summary>
    public SchedulingMode Scheduling { get; }

    /// <summary>True once the primary has asked this worker to stop.</summary>
    public bool IsDisconnectRequested => _disconnect.IsRequested;

    /// <summary>
    /// A message from the primary. Handlers run one at a time, in the order the messages were sent. Messages that
    /// arrive before the first handler is attached wait for it, so none is lost to start-up order.
    /// </summary>
    public event EventHandler<JsonElement>? Message
    {
        add => _messages.Add(value);
        remove => _messages.Remove(value);
    }

    /// <summary>
    /// The primary asks this worker to stop: finish in-flight work and exit. A handler attached after the request
    /// arrived runs at once; each handler runs once, on the thread pool.
    /// </summary>
    public event EventHandler? DisconnectRequested
    {
        add => _disconnect.Add(value);
        remove => _disconnect.Remove(value);
    }

    /// <summary>What the worker's drain does first, in order, before the server closes what is left (registered by integrations such as SignalR's).</summary>
    internal DrainSteps DrainSteps { get; } = new();

    /// <summary>The cluster's endpoints as this worker serves them; the server integration claims them.</summary>
    internal WorkerEndpoints Endpoints { get; }

    /// <summary>Requests and connections, counted by the server integration and reported to the primary.</summary>
    internal LoadMeter Load { get; } = new();

    /// <summary>Connections the primary asked this worker to close after their next response.</summary>
    internal ShedCounter Shedding { get; } = new();

    /// <summary>
    /// How this worker asks itself for a path, returning the HTTP status (0: no answer); set by the server integration
    /// once the app serves. Without it, every health probe is answered 0, a failure.
    /// </summary>
    internal Func<string, TimeSpan, Task<int>>? SelfRequest { get; set; }

    /// <summary>
    /// Takes the SignalR backplane messages other workers send (ProcessCluster.SignalR sets it, then subscribes with
    /// <see cref="SendBackplane"/>). Called on the channel's reader thread, one at a time, in the order they arrived.
    /// </summary>
    internal Action<BackplaneMessage>? BackplaneHandler { get; set; }

    /// <summary>Sends a backplane message to the primary, which relays it to the other workers that subscribed.</summary>
    internal void SendBackplane(BackplaneMessage message) => _primary.Send(FrameType.Backplane, message.Write());

    /// <summary>Sends an application message (JSON) to the primary.</summary>
    [RequiresUnreferencedCode(ApplicationMessages.ReflectionWarning), RequiresDynamicCode(ApplicationMessages.ReflectionWarning)]
    public void Send(object message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _primary.Send(FrameType.Message, JsonSerializer.SerializeToUtf8Bytes(message, message.GetType()));
    }

    /// <summary>Sends an application message serialised by source-generated JSON (fit for trimming and native AOT).</summary>
    public void Send<T>(T message, JsonTypeInfo<T> typeInfo) => _primary.Send(FrameType.Message, JsonSerializer.SerializeToUtf8Bytes(message, typeInfo));

    /// <summary>
    /// Makes this process, started by a primary, its worker (Node's cluster.worker): connects to the primary and
    /// publishes the worker as <see cref="Cluster.Worker"/>. For servers that are not Kestrel: the app then takes the
    /// cluster's endpoints (<see cref="Listen"/>) and says when it serves (<see cref="ReportListening"/>). Apps that call
    /// UseCluster() do not call this.
    /// </summary>
    /// <exception cref="InvalidOperationException">This process is not a worker (<see cref="Cluster.IsWorker"/> is false).</exception>
    public static ClusterWorker Connect(ClusterOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var environment = WorkerEnvironment.Current ?? throw new InvalidOperationException("this process was not started by a cluster primary: Cluster.IsWorker is false");
        var worker = Connect(environment, options.MaxMessageBytes, logger);
        Cluster.Started(worker);
        return worker;
    }

    /// <summary>
    /// Takes the cluster's endpoint for <paramref name="endpoint"/> as the primary opened it (as Kestrel's binds are
    /// matched: the same address and port, an any-address on that port, or the next port-0 endpoint in order; a Unix
    /// domain socket by its path).
    /// </summary>
    /// <exception cref="InvalidOperationException">The primary opened no such endpoint, or it is already taken.</exception>
    public ClusterListener Listen(EndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var claimed = Endpoints.Claim(endpoint)
            ?? throw new InvalidOperationException($"{endpoint} is not one of the cluster's endpoints ({string.Join(", ", Endpoints.Select(known => known.Configured))}), or is already taken");
        return new ClusterListener(claimed);
    }

    /// <summary>Connects to the primary named in <paramref name="environment"/> and becomes this process's worker.</summary>
    internal static ClusterWorker Connect(WorkerEnvironment environment, int maxMessageBytes, ILogger logger)
    {
        return Start(PrimaryConnection.Connect(environment, maxMessageBytes), logger);
    }

    /// <summary>A worker over a channel already welcomed by its primary; it starts reading the primary's frames.</summary>
    internal static ClusterWorker Start(PrimaryConnection primary, ILogger logger)
    {
        var worker = new ClusterWorker(primary, logger);
        primary.Start(worker);
        return worker;
    }

    /// <summary>
    /// Tells the primary that the app serves these addresses: the worker is ready and gets connections from now on
    /// (its readiness counts for start-up, reloads and <see cref="ClusterOptions.ReadyTimeout"/>).
    /// </summary>
    public void ReportListening(IReadOnlyList<string> addresses) => _primary.ReportListening(addresses);

    /// <summary>Tells the primary that the app is shutting down, whatever the reason: it gets no more connections.</summary>
    public void ReportStopping() => _primary.ReportStopping();

    void IPrimaryFrameHandler.BackplaneReceived(BackplaneMessage message) => BackplaneHandler?.Invoke(message);

    void IPrimaryFrameHandler.ConnectionHandedOver(long connectionId, int endpointIndex, int fd) => Endpoints.Offer(connectionId, endpointIndex, fd);

    void IPrimaryFrameHandler.MessageReceived(JsonElement message) => _messages.Post(message);

    void IPrimaryFrameHandler.ShedRequested(int connections) => Shedding.Set(connections);

    void IPrimaryFrameHandler.DisconnectRequested() => _disconnect.Request();

    // Off the channel's reader: the request to itself takes a while, and frames keep coming.
    void IPrimaryFrameHandler.HealthProbeRequested(long id, TimeSpan timeout, string path) => _ = Task.Run(async () =>
    {
        var status = SelfRequest is { } request ? await request(path, timeout).ConfigureAwait(false) : 0;
        _primary.TrySend(FrameType.HealthResult, FrameFormat.WriteHealthResult(id, status));
    });
}
