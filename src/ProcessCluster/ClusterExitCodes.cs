namespace ProcessCluster;

/// <summary>How a primary's exit code tells a service manager what happened; the same for every host, a socket server's own included.</summary>
public static class ClusterExitCodes
{
    /// <summary>Every worker drained and exited in time.</summary>
    public const int Stopped = 0;

    /// <summary>The graceful stop had to kill workers that did not finish draining in time.</summary>
    public const int DrainIncomplete = 1;

    /// <summary>Settings the cluster cannot run with (or, for dotnet-cluster, a command line it cannot parse).</summary>
    public const int InvalidConfiguration = 2;

    /// <summary>Workers died in a loop and none ever became ready (a build that cannot boot).</summary>
    public const int WorkersCannotStart = 3;
}
