using System.Text.Json;
using ProcessCluster.Control;

namespace ProcessCluster.IntegrationTests;

/// <summary>The dotnet-cluster CLI run as a real process, as an operator would run it.</summary>
public static class ClusterCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string Assembly => TestCluster.BuiltAssembly(Path.Combine("src", "ProcessCluster.Cli"), "dotnet-cluster.dll");

    public static Task<CliResult> RunAsync(params string[] arguments) => ExternalProgram.RunAsync("dotnet", [Assembly, .. arguments], Timeout);

    /// <summary>`status --json` of the cluster with this primary pid.</summary>
    public static async Task<ClusterStatus> StatusAsync(int primaryPid)
    {
        var result = await RunAsync("status", "--json", "--pid", primaryPid.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonSerializer.Deserialize(result.Output, ControlJson.Default.ClusterStatus)!;
    }
}
