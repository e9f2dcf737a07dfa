using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The webapi-shaped fixture app (tests/ProcessCluster.WebApiApp) run from its own folder, as a user runs it, so that
/// its appsettings.json (Kestrel:Endpoints, HTTP and HTTPS) is what the cluster reads; the ports are made free ones and
/// the certificate is made here, written to a pfx in a folder of the test's own, through the variables a deployment would set.
/// </summary>
public sealed class WebApiAppCluster : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("processcluster-webapi-");

    public WebApiAppCluster()
    {
        HttpPort = FreePort();
        HttpsPort = FreePort();
        CertificatePath = Path.Combine(_folder.FullName, "cert.pfx");
        File.WriteAllBytes(CertificatePath, TestCertificate.SelfSignedPfx("pw"));
    }

    public static string Assembly => TestCluster.BuiltAssembly(Path.Combine("tests", "ProcessCluster.WebApiApp"), "ProcessCluster.WebApiApp.dll");

    public int HttpPort { get; }

    public int HttpsPort { get; }

    public string CertificatePath { get; }

    /// <summary>A path for a Unix domain socket in this fixture's folder.</summary>
    public string SocketPath(string name) => Path.Combine(_folder.FullName, name);

    /// <summary>The deployment's variables: the appsettings endpoints moved to free ports, the certificate's path, and <paramref name="more"/>.</summary>
    public Dictionary<string, string> Environment(IReadOnlyDictionary<string, string>? more = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{HttpPort}",
            ["Kestrel__Endpoints__Https__Url"] = $"https://127.0.0.1:{HttpsPort}",
            ["Kestrel__Endpoints__Https__Certificate__Path"] = CertificatePath,
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return environment;
    }

    public Task<TestCluster> StartAsync(IReadOnlyDictionary<string, string>? more = null, bool waitUntilReady = true, string? standalonePrimary = null) =>
        TestCluster.StartAsync(
            "RoundRobin",
            workers: 2,
            environment: Environment(more),
            waitUntilReady: waitUntilReady,
            standalonePrimary: standalonePrimary,
            workingDirectory: Path.GetDirectoryName(Assembly),
            app: Assembly);

    private static int s_nextPort = Random.Shared.Next(12000);

    public static int FreePort()
    {
        // Below the kernel's ephemeral range (32768 and up): a port given out here and closed again cannot be taken by a
        // port-0 bind (the admin endpoint's, another test's) or an outgoing connection before the cluster binds it.
        // Each call moves on, so a port just used (in TIME_WAIT) is not handed out twice in a run.
        while (true)
        {
            var port = 20000 + (Interlocked.Increment(ref s_nextPort) % 12000);
            try
            {
                using var listener = new TcpListener(IPAddress.Any, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: the next one.
            }
        }
    }

    public void Dispose() => _folder.Delete(recursive: true);
}
