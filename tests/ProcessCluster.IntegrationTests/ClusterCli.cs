using System.Diagnostics;
using System.Text.Json;
using ProcessCluster.Control;

namespace ProcessCluster.IntegrationTests;

/// <summary>The dotnet-cluster CLI run as a real process, as an operator would run it.</summary>
public static class ClusterCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string Assembly => TestCluster.BuiltAssembly(Path.Combine("src", "ProcessCluster.Cli"), "dotnet-cluster.dll");

    public static Task<CliResult> RunAsync(params string[] arguments) => RunAsAsync([], arguments);

    /// <summary>Runs the CLI through <paramref name="launcher"/> (a program and its arguments that execs the rest, e.g. setpriv).</summary>
    public static async Task<CliResult> RunAsAsync(IReadOnlyList<string> launcher, params string[] arguments)
    {
        var start = new ProcessStartInfo(launcher.Count > 0 ? launcher[0] : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in launcher.Skip(1).Concat(launcher.Count > 0 ? ["dotnet"] : []))
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add(Assembly);
        arguments.ToList().ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            ProcessTree.Kill(process.Id);
            throw;
        }

        return new CliResult(process.ExitCode, await output, await error);
    }

    /// <summary>`status --json` of the cluster with this primary pid.</summary>
    public static async Task<ClusterStatus> StatusAsync(int primaryPid)
    {
        var result = await RunAsync("status", "--json", "--pid", primaryPid.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonSerializer.Deserialize(result.Output, ControlJson.Default.ClusterStatus)!;
    }
}
