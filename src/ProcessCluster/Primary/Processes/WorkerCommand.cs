namespace ProcessCluster.Primary;

/// <summary>The program a worker runs: by default this very process's executable and arguments.</summary>
public sealed record WorkerCommand(string Path, IReadOnlyList<string> Arguments)
{
    /// <summary>
    /// The command line that started this process, read again from disk at each fork, so a new build is picked up
    /// by the next worker. "dotnet app.dll ..." is kept as such; an apphost runs directly.
    /// </summary>
    public static WorkerCommand FromCurrentProcess()
    {
        var executable = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this process is unknown");
        var arguments = Environment.GetCommandLineArgs();
        var isMuxer = System.IO.Path.GetFileNameWithoutExtension(executable) == "dotnet";
        // For "dotnet app.dll", GetCommandLineArgs()[0] is app.dll; for an apphost it is the apphost.
        return isMuxer
            ? new WorkerCommand(executable, [executable, .. arguments])
            : new WorkerCommand(executable, [executable, .. arguments[1..]]);
    }
}
