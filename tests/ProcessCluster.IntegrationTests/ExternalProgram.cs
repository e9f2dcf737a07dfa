using System.Diagnostics;

namespace ProcessCluster.IntegrationTests;

/// <summary>A real program (curl, h2load, dotnet-cluster) run to its end, bounded by a deadline; killed by pid if it overruns.</summary>
public static class ExternalProgram
{
    public static async Task<CliResult> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            ProcessTree.Kill(process.Id);
            throw;
        }

        return new CliResult(process.ExitCode, await output, await error);
    }
}
