namespace ProcessCluster.IntegrationTests;

/// <summary>What a load run saw: every request is a success, a failure, or a clean refusal (nobody listening).</summary>
public sealed record LoadReport(long Succeeded, long Failed, long Refused, IReadOnlyDictionary<int, long> ResponsesByPid, IReadOnlyList<string> FailureSamples);
