using System.Text.Json;
using System.Text.Json.Serialization;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Control;

/// <summary>
/// One command on the control socket, sent as one line of JSON: {"command":"scale","workers":"+1"}. Commands: status,
/// scale (workers: "N", "+N" or "-N"), reload, stop (fast: kill instead of drain), kill (worker: id; signal: a name).
/// </summary>
internal sealed record ControlRequest(string Command, string? Workers = null, int? Worker = null, string? Signal = null, bool Fast = false)
{
    /// <summary>The longest request line the primary reads; anything longer is refused.</summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Reads a request line; throws <see cref="FormatException"/> with a message fit for the client.</summary>
    public static ControlRequest Parse(string line)
    {
        ControlRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(line, ControlJson.Default.ControlRequest);
        }
        catch (JsonException error)
        {
            throw new FormatException($"not a JSON command: {error.Message}", error);
        }

        if (request?.Command is null)
        {
            throw new FormatException("the request has no \"command\"");
        }

        return request;
    }

    public string ToLine() => JsonSerializer.Serialize(this, ControlJson.Default.ControlRequest);
}

/// <summary>
/// One line the primary answers with. Progress lines carry an <see cref="Event"/> and no <see cref="Ok"/>; the last
/// line has <see cref="Ok"/> set, with a <see cref="Message"/> or an <see cref="Error"/> (and the status, for status).
/// </summary>
internal sealed record ControlReply(bool? Ok = null, string? Message = null, string? Error = null, ClusterStatus? Status = null, ClusterEvent? Event = null)
{
    public static ControlReply Success(string message) => new(Ok: true, Message: message);

    public static ControlReply Failure(string error) => new(Ok: false, Error: error);

    public static ControlReply Progress(ClusterEvent @event) => new(Event: @event);

    public bool IsFinal => Ok is not null;

    public static ControlReply Parse(string line) =>
        JsonSerializer.Deserialize(line, ControlJson.Default.ControlReply) ?? throw new FormatException("an empty reply");

    public string ToLine() => JsonSerializer.Serialize(this, ControlJson.Default.ControlReply);
}

/// <summary>JSON for the control socket and /api/status: camelCase, enums as strings, no nulls.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlReply))]
[JsonSerializable(typeof(ClusterStatus))]
internal sealed partial class ControlJson : JsonSerializerContext;
