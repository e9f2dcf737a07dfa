using System.Text.Json.Serialization;

namespace ProcessCluster.IntegrationTests;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Ping))]
public sealed partial class MessagesJson : JsonSerializerContext;
