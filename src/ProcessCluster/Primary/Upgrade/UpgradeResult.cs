namespace ProcessCluster.Primary;

/// <summary>Why an in-place upgrade did not happen (when it does, this process runs the new build and nobody is left to answer).</summary>
internal enum UpgradeOutcome
{
    /// <summary>The new build failed its --check: the running primary carries on.</summary>
    CheckFailed,

    /// <summary>Not now: the cluster is stopping, reloading, starting workers, or already upgrading.</summary>
    Refused,

    /// <summary>The workers did not pause in time, or execve failed: everything was resumed as it was.</summary>
    CalledOff,
}

internal sealed record UpgradeResult(UpgradeOutcome Outcome, string Message);
