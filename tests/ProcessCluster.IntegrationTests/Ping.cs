namespace ProcessCluster.IntegrationTests;

public sealed record Ping(string Text, int Count);
