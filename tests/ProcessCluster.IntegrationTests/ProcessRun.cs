using System.Diagnostics;

namespace ProcessCluster.IntegrationTests;

/// <summary>A program run to its end as a person would run it in a shell: its output, its exit code, a deadline.</summary>
public static class ProcessRun
{
    /// <summary>
    /// Runs <paramref name="program"/> and waits for it to exit; past <paramref name="timeout"/> it is killed (by pid)
    /// and a <see cref="TimeoutException"/> says which command hung.
    /// </summary>
    public static async Task<CliResult> RunAsync(
        string program,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        arguments.ToList().ForEach(start.ArgumentList.Add);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
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
            throw new TimeoutException($"{program} {string.Join(' ', start.ArgumentList)} did not end within {timeout.TotalSeconds} s");
        }

        return new CliResult(process.ExitCode, await output, await error);
    }
}
