using System.Text.Json.Serialization;

namespace ProcessCluster.Ipc;

internal sealed record HelloMessage(int WorkerId, string Secret);

/// <summary>An endpoint as configured (what the app asks to bind) and as bound (port 0 resolved).</summary>
internal sealed record EndpointInfo(string Address, int Port, string BoundAddress, int BoundPort);

internal sealed record WelcomeMessage(int WorkerId, SchedulingMode Scheduling, IReadOnlyList<EndpointInfo> Endpoints, int HeartbeatIntervalMs, int LoadReportIntervalMs);

internal sealed record ListeningMessage(IReadOnlyList<string> Addresses);

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(WelcomeMessage))]
[JsonSerializable(typeof(ListeningMessage))]
internal sealed partial class IpcJson : JsonSerializerContext;
