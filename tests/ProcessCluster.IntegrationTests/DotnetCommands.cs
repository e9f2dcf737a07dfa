namespace ProcessCluster.IntegrationTests;

/// <summary>How the tests run the dotnet CLI itself (pack, new, add package, build, tool install).</summary>
public static class DotnetCommands
{
    /// <summary>
    /// No first-run banner or telemetry, and no build server left behind: MSBuild nodes, the MSBuild server and the
    /// compiler server would outlive the command, processes the test started and could not kill by pid.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Unattended { get; } = new Dictionary<string, string>
    {
        ["DOTNET_NOLOGO"] = "1",
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
        ["MSBUILDDISABLENODEREUSE"] = "1",
        ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
        ["UseSharedCompilation"] = "false",
        ["UseRazorBuildServer"] = "false",
    };
}
