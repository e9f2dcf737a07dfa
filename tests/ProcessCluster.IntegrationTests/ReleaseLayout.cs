using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The release layout people deploy with (Capistrano's), in a temporary directory: releases/NAME, each a copy of the
/// test app's build labelled with its own build (appsettings.json next to the .dll) and release file (release.txt,
/// read from the worker's working directory), and current -> releases/NAME. The cluster runs as
/// `dotnet ROOT/current/ProcessCluster.TestApp.dll` from current/, as a shell started in it would.
/// </summary>
internal sealed class ReleaseLayout : IDisposable
{
    private const string AppFile = "ProcessCluster.TestApp.dll";

    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("processcluster-deploy-");

    public string Current => Path.Combine(_root.FullName, "current");

    /// <summary>Copies the test app's build as releases/<paramref name="name"/>; its release file says <paramref name="release"/> (default: the name).</summary>
    public void Add(string name, string? release = null)
    {
        var directory = Path.Combine(_root.FullName, "releases", name);
        var build = Path.GetDirectoryName(TestCluster.TestAppAssembly)!;
        foreach (var file in Directory.EnumerateFiles(build, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(directory, Path.GetRelativePath(build, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }

        Label(directory, name, release ?? name);
    }

    /// <summary>Points current at releases/<paramref name="name"/>, as `ln -sfn` does.</summary>
    public void Point(string name)
    {
        using var link = Process.Start(new ProcessStartInfo("ln", ["-sfn", Path.Combine("releases", name), "current"]) { WorkingDirectory = _root.FullName })!;
        link.WaitForExit();
        Assert.Equal(0, link.ExitCode);
    }

    /// <summary>Makes releases/<paramref name="name"/> a build that cannot start: its app's .dll is not an assembly.</summary>
    public void Break(string name) => File.WriteAllText(Path.Combine(_root.FullName, "releases", name, AppFile), "not an assembly");

    /// <summary>
    /// Rewrites the files of the release current points to in place, as a `dotnet publish` over it would: the app's
    /// .dll too, truncated and written again under the running workers (same file, new bytes: the build with a trailer
    /// the loader ignores, as a rebuild differs), then its settings and release file.
    /// </summary>
    public void Overwrite(string name)
    {
        var app = Path.Combine(Current, AppFile);
        var build = File.ReadAllBytes(app);
        using (var file = new FileStream(app, FileMode.Truncate, FileAccess.Write))
        {
            file.Write(build);
            file.Write(System.Text.Encoding.ASCII.GetBytes($"\0build {name}\0"));
        }

        Label(Current, name, name);
    }

    /// <summary>Starts the cluster from current/ (in-app primary, or `dotnet-cluster run` with <paramref name="standalone"/>).</summary>
    public Task<TestCluster> StartAsync(bool standalone, params (string Name, string Value)[] settings)
    {
        var environment = settings.ToDictionary(setting => setting.Name, setting => setting.Value);
        environment["PWD"] = Current;
        environment["SEED_RELEASE_FILE"] = "release.txt";
        return TestCluster.StartAsync(
            "RoundRobin",
            workers: 2,
            environment: environment,
            standalonePrimary: standalone ? ClusterCli.Assembly : null,
            workingDirectory: Current,
            app: Path.Combine(Current, AppFile));
    }

    public void Dispose() => _root.Delete(recursive: true);

    private static void Label(string directory, string build, string release)
    {
        var settingsPath = Path.Combine(directory, "appsettings.json");
        var settings = JsonNode.Parse(File.ReadAllText(settingsPath))!.AsObject();
        settings["TestApp"] = new JsonObject { ["Build"] = build };
        File.WriteAllText(settingsPath, settings.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "release.txt"), release);
    }
}
