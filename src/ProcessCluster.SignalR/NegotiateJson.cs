using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ProcessCluster.SignalR;

/// <summary>Writes SignalR's negotiate answer back without reflection.</summary>
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class NegotiateJson : JsonSerializerContext;
