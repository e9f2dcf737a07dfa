using System.IO.Compression;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ProcessCluster.Control;
using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The packages as a user outside this repository gets them: packed into a folder feed, a new app from the SDK's web
/// template adds ProcessCluster.AspNetCore from it and makes the one call, and dotnet-cluster is installed from it.
/// The app restores from a packages folder of its own, so no user's cache ever holds (or serves) these builds.
/// </summary>
public sealed partial class PackageInstallTests(PackedFeed feed) : IClassFixture<PackedFeed>
{
    private static readonly string[] PackageIds = ["ProcessCluster", "ProcessCluster.AspNetCore", "dotnet-cluster"];
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public void Pack_makes_every_package_and_its_symbols_with_license_readme_and_documentation_and_no_warning()
    {
        Assert.True(feed.Pack.ExitCode == 0, feed.Pack.ToString());
        Assert.DoesNotContain("warning", feed.Pack.Output + feed.Pack.Error, StringComparison.OrdinalIgnoreCase);
        foreach (var id in PackageIds)
        {
            Assert.True(File.Exists(feed.PackagePath(id, "snupkg")), $"no symbols package for {id}");
            using var package = ZipFile.OpenRead(feed.PackagePath(id));
            var metadata = Metadata(package, id);
            Assert.Equal("MIT", Element(metadata, "license")?.Value);
            Assert.Equal("README.md", Element(metadata, "readme")?.Value);
            Assert.NotNull(package.GetEntry("README.md"));
            Assert.NotNull(package.GetEntry("LICENSE"));
            Assert.False(string.IsNullOrWhiteSpace(Element(metadata, "description")?.Value), $"{id} has no description");
            Assert.False(string.IsNullOrWhiteSpace(Element(metadata, "projectUrl")?.Value), $"{id} has no project URL");
        }

        foreach (var library in PackageIds[..2])
        {
            using var package = ZipFile.OpenRead(feed.PackagePath(library));
            Assert.NotNull(package.GetEntry($"lib/net10.0/{library}.xml"));
            if (PackedFeed.Configuration == "Release" && RuntimeInformation.RuntimeIdentifier == "linux-x64")
            {
                // ReadyToRun images (src/Directory.Build.targets): a JIT app's new worker does not JIT our code first.
                Assert.True(IsReadyToRun(package.GetEntry($"lib/net10.0/{library}.dll")!), $"{library}.dll in the package is IL only");
            }
        }

        // The core runs under dotnet-cluster run without ASP.NET Core: its users must not get it.
        using var core = ZipFile.OpenRead(feed.PackagePath("ProcessCluster"));
        var coreMetadata = Metadata(core, "ProcessCluster");
        Assert.DoesNotContain(coreMetadata.Descendants(), element => element.Name.LocalName == "frameworkReference");
        Assert.DoesNotContain(Dependencies(coreMetadata), id => id.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || id.StartsWith("OpenTelemetry", StringComparison.Ordinal));

        using var tool = ZipFile.OpenRead(feed.PackagePath("dotnet-cluster"));
        Assert.Equal("DotnetTool", Metadata(tool, "dotnet-cluster").Descendants().Single(element => element.Name.LocalName == "packageType").Attribute("name")?.Value);
    }

    private static bool IsReadyToRun(ZipArchiveEntry assembly)
    {
        using var image = new MemoryStream();
        using (var stream = assembly.Open())
        {
            stream.CopyTo(image);
        }

        image.Position = 0;
        using var reader = new PEReader(image);
        return reader.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }

    [Fact]
    public async Task A_new_web_app_adds_the_package_from_the_feed_serves_from_2_workers_and_the_installed_tool_lists_them()
    {
        Assert.True(feed.Pack.ExitCode == 0, feed.Pack.ToString());
        var home = Directory.CreateTempSubdirectory("processcluster-user-");
        try
        {
            var appDirectory = home.CreateSubdirectory("MyApp").FullName;
            var toolPath = Path.Combine(home.FullName, "tools");
            var environment = new Dictionary<string, string>(DotnetCommands.Unattended)
            {
                ["NUGET_PACKAGES"] = Path.Combine(home.FullName, "packages"),
            };

            await DotnetAsync(appDirectory, environment, "new", "web", "--no-restore");
            await WriteNuGetConfigAsync(appDirectory, environment);
            await DotnetAsync(appDirectory, environment, "add", "package", "ProcessCluster.AspNetCore", "--version", PackedFeed.Version);
            await MakeItAClusterAsync(Path.Combine(appDirectory, "Program.cs"));
            await DotnetAsync(appDirectory, environment, "build", "-c", "Release");

            await using var cluster = await TestCluster.StartAsync(
                "RoundRobin", workers: 2, app: Path.Combine(appDirectory, "bin", "Release", "net10.0", "MyApp.dll"), workingDirectory: appDirectory);
            var workers = await cluster.ReadyPidsAsync();
            using var client = new AppClient(cluster.BaseAddress);
            var answered = new HashSet<int>();
            await Poll.UntilAsync(
                async () =>
                {
                    answered.Add(int.Parse(await client.GetAsync("/pid")));
                    return answered.Count >= 2;
                },
                Deadline,
                "answers from 2 workers",
                () => $"answered: {string.Join(", ", answered)}; workers: {string.Join(", ", workers)}");
            Assert.Equal(workers.Order(), answered.Order());
            Assert.Equal("Hello World!", await client.GetAsync("/"));

            // From the feed the app's nuget.config maps it to (--add-source cannot be combined with source mapping).
            await DotnetAsync(appDirectory, environment, "tool", "install", "dotnet-cluster", "--tool-path", toolPath, "--version", PackedFeed.Version);
            var status = await ProcessRun.RunAsync(
                Path.Combine(toolPath, "dotnet-cluster"), ["status", "--json", "--pid", cluster.PrimaryPid.ToString()], CommandTimeout, appDirectory, environment);
            Assert.True(status.ExitCode == 0, status.ToString());
            var listed = JsonSerializer.Deserialize(status.Output, ControlJson.Default.ClusterStatus)!;
            Assert.Equal(cluster.PrimaryPid, listed.Pid);
            Assert.Equal(workers.Order(), listed.Workers.Where(worker => worker.State == WorkerState.Ready).Select(worker => worker.Pid).Order());
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    private static async Task DotnetAsync(string directory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var result = await ProcessRun.RunAsync("dotnet", arguments, CommandTimeout, directory, environment);
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', arguments)}: {result}");
    }

    /// <summary>
    /// The feed for this repository's packages only, and for everything else the sources this machine's user already
    /// has (read, not named here): package source mapping keeps the two apart.
    /// </summary>
    private async Task WriteNuGetConfigAsync(string directory, IReadOnlyDictionary<string, string> environment)
    {
        var sources = await ProcessRun.RunAsync("dotnet", ["nuget", "list", "source", "--format", "detailed"], CommandTimeout, directory, environment);
        Assert.True(sources.ExitCode == 0, sources.ToString());
        var userSources = EnabledSource().Matches(sources.Output).Select(match => match.Groups[1].Value).ToList();
        Assert.NotEmpty(userSources);
        var config = new XElement(
            "configuration",
            new XElement("packageSources", new XElement("add", new XAttribute("key", "processcluster-feed"), new XAttribute("value", feed.Directory.FullName))),
            new XElement(
                "packageSourceMapping",
                new XElement(
                    "packageSource",
                    new XAttribute("key", "processcluster-feed"),
                    PackageIds.Append("ProcessCluster.*").Select(pattern => new XElement("package", new XAttribute("pattern", pattern)))),
                userSources.Select(source => new XElement("packageSource", new XAttribute("key", source), new XElement("package", new XAttribute("pattern", "*"))))));
        await File.WriteAllTextAsync(Path.Combine(directory, "nuget.config"), config.ToString());
    }

    /// <summary>What the README asks of a user (the using and the one call), and a route that says which process answered.</summary>
    private static async Task MakeItAClusterAsync(string programPath)
    {
        var program = await File.ReadAllTextAsync(programPath);
        const string build = "var app = builder.Build();";
        Assert.Contains(build, program);
        program = "using ProcessCluster.AspNetCore;\n" + program.Replace(
            build, $"builder.UseCluster();\n{build}\napp.MapGet(\"/pid\", () => Environment.ProcessId.ToString());", StringComparison.Ordinal);
        await File.WriteAllTextAsync(programPath, program);
    }

    private static XElement Metadata(ZipArchive package, string id)
    {
        using var nuspec = package.GetEntry($"{id}.nuspec")!.Open();
        return XDocument.Load(nuspec).Root!.Elements().Single(element => element.Name.LocalName == "metadata");
    }

    private static XElement? Element(XElement metadata, string name) => metadata.Elements().SingleOrDefault(element => element.Name.LocalName == name);

    private static IEnumerable<string> Dependencies(XElement metadata) =>
        metadata.Descendants().Where(element => element.Name.LocalName == "dependency").Select(element => element.Attribute("id")!.Value);

    /// <summary>"  1.  name [Enabled]" in `dotnet nuget list source --format detailed`.</summary>
    [GeneratedRegex(@"^\s*\d+\.\s+(.+?) \[Enabled\]\s*$", RegexOptions.Multiline)]
    private static partial Regex EnabledSource();
}
