namespace ProcessCluster.IntegrationTests;

/// <summary>What a load run saw: every request is a success, a failure, or a clean refusal (nobody listening).</summary>
public sealed record LoadReport(long Succeeded, long Failed, long Refused, IReadOnlyDictionary<int, long> ResponsesByPid, IReadOnlyList<string> FailureSamples)
{
    /// <summary>Fails the test, with samples of what went wrong, unless every request succeeded or was refused.</summary>
    public void AssertNoneFailed() =>
        Assert.True(Failed == 0, $"{Failed} of {Succeeded + Failed} requests failed:\n{string.Join('\n', FailureSamples)}");
}
