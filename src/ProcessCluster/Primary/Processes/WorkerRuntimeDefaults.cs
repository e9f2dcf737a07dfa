namespace ProcessCluster.Primary;

/// <summary>
/// Runtime settings a worker starts with unless they were chosen already. The runtime's defaults suit one process per
/// machine, but workers share the cores: a thread-pool thread that runs out of work spins before it sleeps, in case
/// more comes, and in a worker that spin holds a core a sibling worker could serve on. With no spinning, the workers
/// spent 74.1 instead of 88.9 µs of CPU per new connection in RoundRobin, 74.8 instead of 81.8 in ReusePort, the same in
/// Shared (bench/compare.sh side by side, bench/RESULTS.md).
/// </summary>
internal static class WorkerRuntimeDefaults
{
    private const string SpinLimit = "ThreadPool_UnfairSemaphoreSpinLimit";

    /// <summary>The runtime's own name for the setting, as set in the app's runtimeconfig.json.</summary>
    public const string SpinLimitProperty = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";

    /// <summary>
    /// Adds each default the worker's <paramref name="variables"/> do not name (with either prefix the runtime reads);
    /// <paramref name="inRuntimeConfig"/> says whether the app's runtimeconfig.json sets it, which a variable would override.
    /// </summary>
    public static void AddTo(IDictionary<string, string> variables, Func<string, bool> inRuntimeConfig)
    {
        if (!variables.ContainsKey("DOTNET_" + SpinLimit) && !variables.ContainsKey("COMPlus_" + SpinLimit) && !inRuntimeConfig(SpinLimitProperty))
        {
            variables["DOTNET_" + SpinLimit] = "0";
        }
    }
}
