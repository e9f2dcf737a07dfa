using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using ProcessCluster.Distribution;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>
/// A listening socket handed across the exec: its descriptor, the endpoint the app asked for (port 0 stays 0),
/// whether systemd passed it in the first place (it stays systemd's; any other is the new program's own), and its
/// scheme (a lean primary has no Kestrel to say it again).
/// </summary>
internal sealed record HandedSocket(int Fd, string Requested, bool Unix, bool Systemd = false, string Scheme = "http")
{
    public EndPoint RequestedEndPoint => Unix ? new UnixDomainSocketEndPoint(Requested) : IPEndPoint.Parse(Requested);

    public static HandedSocket Of(BoundEndpoint endpoint) => Of(endpoint.Fd, endpoint.Configured.EndPoint, endpoint.Origin, endpoint.Configured.Scheme);

    public static HandedSocket Of(int fd, EndPoint requested, SocketOrigin origin, string scheme) =>
        new(fd, requested.ToString()!, requested is UnixDomainSocketEndPoint, origin == SocketOrigin.Systemd, scheme);
}

/// <summary>A running worker handed across the exec: who it is, its channel and output descriptors, and where it stands.</summary>
internal sealed record HandedWorker(
    int Id,
    int Pid,
    int Channel,
    int Stdout,
    int Stderr,
    bool Spare,
    DateTimeOffset ForkedAt,
    DateTimeOffset? ReadyAt,
    int Restarts,
    long RequestLimit,
    string? Release,
    string? Code,
    string? Library,
    IReadOnlyList<string> Addresses);

[JsonSerializable(typeof(List<HandedSocket>))]
[JsonSerializable(typeof(List<HandedWorker>))]
internal sealed partial class HandoverJson : JsonSerializerContext;

/// <summary>
/// What a primary re-executing itself in place (SIGUSR2, <c>dotnet-cluster upgrade</c>) tells its next program: the
/// listening sockets and the table of running workers, as JSON in the environment (the descriptors named there are
/// inherited: their FD_CLOEXEC is cleared just before the exec). Sockets and workers are separate variables, so a
/// workers table the new program cannot read still leaves it the sockets; the pid says the variables are meant for
/// this process and not for a child that inherited them.
/// </summary>
internal static class UpgradeHandover
{
    public const string PidVariable = "PROCESSCLUSTER_UPGRADE_PID";
    public const string SocketsVariable = "PROCESSCLUSTER_UPGRADE_SOCKETS";
    public const string WorkersVariable = "PROCESSCLUSTER_UPGRADE_WORKERS";
    public const string ProtocolVariable = "PROCESSCLUSTER_UPGRADE_PROTOCOL";

    private static readonly Lazy<Received?> Taken = new(() => Read(
        Environment.GetEnvironmentVariable(PidVariable),
        Environment.GetEnvironmentVariable(SocketsVariable),
        Environment.GetEnvironmentVariable(WorkersVariable),
        Environment.GetEnvironmentVariable(ProtocolVariable),
        Environment.ProcessId));

    /// <summary>The variables for the next program.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Variables(IReadOnlyList<HandedSocket> sockets, IReadOnlyList<HandedWorker> workers) =>
    [
        new(PidVariable, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)),
        new(SocketsVariable, JsonSerializer.Serialize(sockets.ToList(), HandoverJson.Default.ListHandedSocket)),
        new(WorkersVariable, JsonSerializer.Serialize(workers.ToList(), HandoverJson.Default.ListHandedWorker)),
        new(ProtocolVariable, ChannelProtocol.Version.ToString(CultureInfo.InvariantCulture)),
    ];

    /// <summary>
    /// What the previous program of this process handed over; null when this process was not re-executed. Read once,
    /// and the variables are removed so that no worker inherits them.
    /// </summary>
    public static Received? Take()
    {
        var taken = Taken.Value;
        foreach (var variable in (string[])[PidVariable, SocketsVariable, WorkersVariable, ProtocolVariable])
        {
            Environment.SetEnvironmentVariable(variable, null);
        }

        return taken;
    }

    /// <summary>
    /// Parses the variables; null when they are absent or meant for another process. Sockets or workers that cannot be
    /// read come back null, each with why in <see cref="Received.Problem"/>. Workers speak the channel protocol of the
    /// program that accepted them (<paramref name="protocol"/>; absent from a program that predates the variable, which
    /// spoke 2): this program cannot take over workers whose frames it would misread.
    /// </summary>
    internal static Received? Read(string? pid, string? sockets, string? workers, string? protocol, int ownPid)
    {
        if (pid is null || !int.TryParse(pid, CultureInfo.InvariantCulture, out var forPid) || forPid != ownPid)
        {
            return null;
        }

        var problems = new List<string>();
        var handedSockets = Parse(sockets, HandoverJson.Default.ListHandedSocket, "sockets", problems);
        var handedWorkers = Parse(workers, HandoverJson.Default.ListHandedWorker, "workers", problems);
        var spoken = protocol ?? "2";
        if (!int.TryParse(spoken, CultureInfo.InvariantCulture, out var version) || !ChannelProtocol.Speaks(version))
        {
            problems.Add($"the workers speak channel protocol {spoken} and this program speaks {ChannelProtocol.Version}: they cannot be taken over");
            handedWorkers = null;
        }

        return new Received(handedSockets, handedWorkers, problems.Count == 0 ? null : string.Join("; ", problems));
    }

    private static List<T>? Parse<T>(string? json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<List<T>> type, string what, List<string> problems)
    {
        try
        {
            return JsonSerializer.Deserialize(json ?? throw new JsonException("missing"), type) ?? throw new JsonException("null");
        }
        catch (JsonException error)
        {
            problems.Add($"the {what} handed over cannot be read ({error.Message})");
            return null;
        }
    }

    /// <summary>What was handed over: null sockets or workers could not be read (<see cref="Problem"/> says why).</summary>
    internal sealed record Received(List<HandedSocket>? Sockets, List<HandedWorker>? Workers, string? Problem);
}
