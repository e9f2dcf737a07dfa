using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>The program a worker runs: by default this very process's command line, as it was typed.</summary>
public sealed record WorkerCommand(string Path, IReadOnlyList<string> Arguments)
{
    /// <summary>
    /// The directory each worker starts in, by name: a symlink in it (current -> releases/v2) is followed again at
    /// each fork. Null: the primary's logical working directory (<see cref="LogicalWorkingDirectory"/>).
    /// </summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// The command line that started this process as it was typed, read again from disk at each fork, so a new build
    /// is picked up by the next worker: a path through a symlink (current/App.dll) stays one, where the runtime
    /// reports it resolved (releases/v1/App.dll). "dotnet app.dll ..." is kept as such; an apphost runs directly.
    /// </summary>
    public static WorkerCommand FromCurrentProcess() => FromCurrentProcess(LogicalWorkingDirectory());

    /// <summary>The same, relative paths made absolute from <paramref name="directory"/> (the directory this process was started in, by name).</summary>
    internal static WorkerCommand FromCurrentProcess(string directory)
    {
        var executable = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this process is unknown");
        var resolved = Environment.GetCommandLineArgs();
        var isMuxer = System.IO.Path.GetFileNameWithoutExtension(executable) == "dotnet";
        var typed = TypedCommandLine();
        if (typed.Count == 0)
        {
            // For "dotnet app.dll", GetCommandLineArgs()[0] is app.dll; for an apphost it is the apphost.
            return isMuxer
                ? new WorkerCommand(executable, [executable, .. resolved])
                : new WorkerCommand(executable, [executable, .. resolved[1..]]);
        }

        // Relative paths are made absolute from the logical directory, so they still name the same file from a
        // worker started in Cluster:WorkingDirectory.
        string Absolute(string path) => System.IO.Path.GetFullPath(path, directory);
        if (isMuxer)
        {
            var app = PathInterop.RealPath(resolved[0]);
            return new WorkerCommand(executable, [executable, .. typed.Skip(1).Select(argument => app is not null && PathInterop.RealPath(argument) == app ? Absolute(argument) : argument)]);
        }

        var program = typed[0].Contains('/') ? Absolute(typed[0]) : executable;
        return new WorkerCommand(program, [program, .. typed.Skip(1)]);
    }

    /// <summary>
    /// This process's working directory by the name it was entered with: $PWD when it names the same directory as
    /// the real one (as a shell keeps it, and as Unicorn reads it), else the real one.
    /// </summary>
    internal static string LogicalWorkingDirectory()
    {
        var real = Environment.CurrentDirectory;
        var logical = Environment.GetEnvironmentVariable("PWD");
        return logical is not null && System.IO.Path.IsPathFullyQualified(logical) && PathInterop.RealPath(logical) == PathInterop.RealPath(real)
            ? logical
            : real;
    }

    /// <summary>argv as the kernel received it (/proc/self/cmdline); empty when it cannot be read.</summary>
    private static IReadOnlyList<string> TypedCommandLine()
    {
        try
        {
            return File.ReadAllText("/proc/self/cmdline").TrimEnd('\0') is { Length: > 0 } line ? line.Split('\0') : [];
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
