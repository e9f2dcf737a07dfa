using ProcessCluster.AspNetCore;
using ProcessCluster.Primary;

/// <summary>
/// The runtime's startup hook (DOTNET_STARTUP_HOOKS names this assembly; the type must be StartupHook, in no
/// namespace): in a process that an in-app primary re-executed as a lean one (<see cref="LeanHandover"/>), it runs
/// the supervisor and exits, so the app's Main never runs there. Anywhere else it returns at once.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        if (LeanHandover.Take() is { } state)
        {
            Environment.Exit(LeanPrimary.RunAsync(state).GetAwaiter().GetResult());
        }
    }
}
