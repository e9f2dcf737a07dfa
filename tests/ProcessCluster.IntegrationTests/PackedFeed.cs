using System.Reflection;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The solution's packages as `dotnet pack` makes them, in a folder feed of their own: packed once for the tests that
/// use it, from the build the tests run against (--no-build), and deleted afterwards.
/// </summary>
public sealed class PackedFeed : IAsyncLifetime
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The packages' version: the build's own (Directory.Build.props), without Source Link's "+commit".</summary>
    public static string Version { get; } =
        typeof(Cluster).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    /// <summary>The configuration these tests were built in, and so the one packed (with no build).</summary>
    public static string Configuration { get; } =
        typeof(PackedFeed).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public DirectoryInfo Directory { get; } = System.IO.Directory.CreateTempSubdirectory("processcluster-feed-");

    /// <summary>What `dotnet pack` printed.</summary>
    public CliResult Pack { get; private set; } = new(-1, "", "");

    public string PackagePath(string id, string extension = "nupkg") => Path.Combine(Directory.FullName, $"{id}.{Version}.{extension}");

    public async Task InitializeAsync()
    {
        Pack = await ProcessRun.RunAsync(
            "dotnet",
            ["pack", Path.Combine(TestCluster.RepositoryRoot, "ProcessCluster.slnx"), "-c", Configuration, "--no-build", "-nologo", "-o", Directory.FullName],
            PackTimeout,
            environment: DotnetCommands.Unattended);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(recursive: true);
        return Task.CompletedTask;
    }
}
