using System.Net;
using System.Net.Sockets;
using System.Text.Json.Serialization;

namespace ProcessCluster.Ipc;

/// <summary>A worker's first frame: who it is, and the protocol and library it was built with (absent before versions: 0, null).</summary>
internal sealed record HelloMessage(int WorkerId, string Secret, int Protocol = 0, string? Library = null);

/// <summary>
/// An endpoint as configured (what the app asks to bind) and as bound (port 0 resolved). A Unix domain socket is
/// the address "unix:" + its path, with port 0.
/// </summary>
internal sealed record EndpointInfo(string Address, int Port, string BoundAddress, int BoundPort)
{
    private const string Unix = "unix:";

    public static EndpointInfo From(EndPoint configured, EndPoint bound)
    {
        var (address, port) = Encode(configured);
        var (boundAddress, boundPort) = Encode(bound);
        return new EndpointInfo(address, port, boundAddress, boundPort);
    }

    public EndPoint Configured() => Decode(Address, Port);

    public EndPoint Bound() => Decode(BoundAddress, BoundPort);

    private static (string Address, int Port) Encode(EndPoint endpoint) => endpoint switch
    {
        IPEndPoint ip => (ip.Address.ToString(), ip.Port),
        UnixDomainSocketEndPoint unix => (Unix + unix, 0),
        _ => throw new ArgumentException($"{endpoint} is neither a TCP address nor a Unix domain socket", nameof(endpoint)),
    };

    private static EndPoint Decode(string address, int port) => address.StartsWith(Unix, StringComparison.Ordinal)
        ? new UnixDomainSocketEndPoint(address[Unix.Length..])
        : new IPEndPoint(IPAddress.Parse(address), port);
}

/// <summary>
/// HttpMetricsIntervalMs above 0 asks for HttpMetrics frames at that interval. Absent (0) from a primary that does not
/// want them, or that predates them and would refuse the frame, so the protocol's version stays as it was.
/// </summary>
internal sealed record WelcomeMessage(
    int WorkerId, SchedulingMode Scheduling, IReadOnlyList<EndpointInfo> Endpoints, int HeartbeatIntervalMs, int LoadReportIntervalMs, int Protocol = 0, string? Library = null, int HttpMetricsIntervalMs = 0);

internal sealed record ListeningMessage(IReadOnlyList<string> Addresses);

// Missing or null fields the types call non-null fail to parse: for a worker's frames, a protocol violation.
[JsonSourceGenerationOptions(UseStringEnumConverter = true, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(WelcomeMessage))]
[JsonSerializable(typeof(ListeningMessage))]
internal sealed partial class IpcJson : JsonSerializerContext;

/// <summary>The app's own messages (Node's worker.send), JSON both ways.</summary>
internal static class ApplicationMessages
{
    /// <summary>Why Send(object) is unfit for trimmed and native AOT apps, and what they use instead.</summary>
    public const string ReflectionWarning = "Serialises the message's runtime type by reflection; trimmed or native AOT apps use Send(message, typeInfo).";
}
