using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ProcessCluster.Distribution;

namespace ProcessCluster.Primary;

/// <summary>
/// What the app's host resolved and the lean primary cannot: the settings after every Configure, the "Logging" section,
/// and the app's command line as typed (the workers' program, and an in-place upgrade's).
/// </summary>
internal sealed record LeanState(ClusterOptions Options, Dictionary<string, string?> Logging, WorkerCommand App);

[JsonSerializable(typeof(LeanState))]
internal sealed partial class LeanStateJson : JsonSerializerContext;

/// <summary>
/// The in-app primary handing over to a lean one (<see cref="ClusterOptions.LeanPrimary"/>): once the app's host has
/// bound the endpoints and resolved the settings, the process re-executes its own command line in place (same pid) with
/// the listening sockets inherited as an in-place upgrade hands them (<see cref="UpgradeHandover"/>), the settings in
/// the environment, and a startup hook that runs the supervisor alone before the app's Main could. The hook's
/// variables are removed as it starts, so the workers run the app's own command line without them.
/// </summary>
internal static class LeanHandover
{
    public const string PidVariable = "PROCESSCLUSTER_LEAN_PID";
    public const string StateVariable = "PROCESSCLUSTER_LEAN_STATE";
    public const string HooksVariable = "DOTNET_STARTUP_HOOKS";

    /// <summary>The app's own startup hooks, if any: put back for the workers (the lean primary never reaches them).</summary>
    public const string PreviousHooksVariable = "PROCESSCLUSTER_LEAN_PREVIOUS_HOOKS";

    /// <summary>
    /// Re-executes this process as a lean primary: the native program of <see cref="ClusterOptions.LeanPrimaryProgram"/>,
    /// or else the app's own command line with <paramref name="hookAssembly"/>'s startup hook. Returns only when the
    /// exec failed, with why; everything is then as it was.
    /// </summary>
    public static string Exec(IReadOnlyList<BoundEndpoint> endpoints, IReadOnlyList<HandedWorker> workers, LeanState state, string hookAssembly)
    {
        var native = state.Options.LeanPrimaryProgram;
        var command = native is null ? state.App : new WorkerCommand(native, [native, "lean-primary"]);
        var previousHooks = Environment.GetEnvironmentVariable(HooksVariable);
        var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .Select(variable => (Key: (string)variable.Key, Value: (string?)variable.Value ?? ""))
            .Where(variable => !variable.Key.StartsWith("PROCESSCLUSTER_LEAN_", StringComparison.Ordinal) && variable.Key != HooksVariable)
            .Select(variable => $"{variable.Key}={variable.Value}")
            .Append($"{PidVariable}={Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}")
            .Append($"{StateVariable}={JsonSerializer.Serialize(state, LeanStateJson.Default.LeanState)}")
            // Ours first: it never returns, so the app's own hooks run only in the workers (Take puts them back). A native
            // program runs no hook.
            .Concat(native is not null ? [] : [$"{HooksVariable}={(string.IsNullOrEmpty(previousHooks) ? hookAssembly : $"{hookAssembly}{Path.PathSeparator}{previousHooks}")}"])
            .Concat(string.IsNullOrEmpty(previousHooks) ? [] : [$"{PreviousHooksVariable}={previousHooks}"]);
        return HandoverExec.Run(command, environment, endpoints, workers);
    }

    /// <summary>
    /// In the lean primary (the startup hook, or a native dotnet-cluster at its start): what the in-app primary of this
    /// very process handed over; null when this process is not one (a worker, a child that inherited the variables, a
    /// plain start). The hand-over's variables are removed, and the app's own hooks put back, so that no worker inherits
    /// them; a process without them (dotnet-cluster run, say) keeps its environment as it is.
    /// </summary>
    public static LeanState? Take()
    {
        var pid = Environment.GetEnvironmentVariable(PidVariable);
        if (pid is null)
        {
            return null;
        }

        var json = Environment.GetEnvironmentVariable(StateVariable);
        Environment.SetEnvironmentVariable(PidVariable, null);
        Environment.SetEnvironmentVariable(StateVariable, null);
        Environment.SetEnvironmentVariable(HooksVariable, Environment.GetEnvironmentVariable(PreviousHooksVariable));
        Environment.SetEnvironmentVariable(PreviousHooksVariable, null);
        if (pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture) || json is null)
        {
            return null;
        }

        return JsonSerializer.Deserialize(json, LeanStateJson.Default.LeanState);
    }
}
