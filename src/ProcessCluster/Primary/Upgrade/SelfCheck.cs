using Microsoft.Win32.SafeHandles;
using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>
/// Before a primary re-executes itself, the new build on disk proves it can start: its command line is run once with
/// <c>--check</c>, which loads the app and the cluster's settings and exits 0 without binding or starting a worker. A
/// build that fails (a missing dll, a bad setting, an exception at start-up) or does not answer in time stops the
/// upgrade here, and the running primary carries on.
/// </summary>
internal static class SelfCheck
{
    public const string Flag = "--check";

    /// <summary>The last lines of output quoted when the check fails.</summary>
    private const int QuotedLines = 5;

    /// <summary>Null when the check passed; else why it failed.</summary>
    public static async Task<string?> RunAsync(WorkerCommand check, IReadOnlyList<string> environment, TimeSpan timeout)
    {
        ProcessInterop.SpawnedProcess spawned;
        try
        {
            spawned = ProcessInterop.Spawn(check.Path, check.Arguments, environment, check.WorkingDirectory);
        }
        catch (Exception error) when (error is System.ComponentModel.Win32Exception)
        {
            return error.Message;
        }

        var output = ReadAllAsync(spawned.Output);
        var errors = ReadAllAsync(spawned.Errors);
        var exited = Task.Run(() => ProcessInterop.WaitForExit(spawned.Pid));
        if (await Task.WhenAny(exited, Task.Delay(timeout)).ConfigureAwait(false) != exited)
        {
            ProcessInterop.Signal(spawned.Pid, SignalNames.SIGKILL);
            await exited.ConfigureAwait(false);
            return $"'{string.Join(' ', check.Arguments)}' did not finish within {timeout.TotalSeconds:0} s";
        }

        var status = await exited.ConfigureAwait(false);
        var lines = (await errors.ConfigureAwait(false) + await output.ConfigureAwait(false))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return status.IsClean
            ? null
            : $"'{string.Join(' ', check.Arguments)}' {status.Describe()}: {string.Join(" | ", lines.TakeLast(QuotedLines))}";
    }

    /// <summary>The command line with the flag added: last (the in-app primary reads it from its arguments), or as <paramref name="place"/> says.</summary>
    public static WorkerCommand For(WorkerCommand program, Func<IReadOnlyList<string>, IReadOnlyList<string>>? place) =>
        program with { Arguments = place is null ? [.. program.Arguments, Flag] : place(program.Arguments) };

    private static async Task<string> ReadAllAsync(SafeFileHandle pipe)
    {
        using var reader = new StreamReader(new FileStream(pipe, FileAccess.Read, bufferSize: 0));
        return await reader.ReadToEndAsync().ConfigureAwait(false);
    }
}
