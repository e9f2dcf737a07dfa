using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// HTTPS with certificates configured the other ways production apps configure them, each served by every worker with
/// its own certificate: PEM certificate and key files (plain, and an encrypted key with its password), a certificate
/// from the X509 store by subject, SNI (two host names, two certificates), Kestrel:Certificates:Default, and the
/// http_ports/https_ports settings. Real processes; curl checks which certificate each endpoint and host name presents.
/// </summary>
public sealed class CertificateSourcesTests : IDisposable
{
    private readonly WebApiAppCluster _app = new();
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("processcluster-pem-");

    // Unique, so that a run beside another never finds the other's certificate in the shared CurrentUser store.
    private readonly string _storeName = $"store-{Guid.NewGuid():N}.test";
    private readonly X509Certificate2 _stored;

    public CertificateSourcesTests()
    {
        // CurrentUser/My is a folder of pfx files on Linux (~/.dotnet/corefx/cryptography/x509stores/my); Dispose removes it again.
        _stored = TestCertificate.SelfSigned(_storeName);
        using var store = new X509Store(StoreName.My, StoreLocation.CurrentUser);
        store.Open(OpenFlags.ReadWrite);
        store.Add(_stored);
    }

    public void Dispose()
    {
        using (var store = new X509Store(StoreName.My, StoreLocation.CurrentUser))
        {
            store.Open(OpenFlags.ReadWrite);
            store.Remove(_stored);
        }

        _stored.Dispose();
        _folder.Delete(recursive: true);
        _app.Dispose();
    }

    /// <summary>
    /// Both ways a worker gets its connections (hand-over, shared socket). The standalone primary is not run here: it
    /// loads no certificate and reads only each endpoint's Url, which the endpoint tests cover.
    /// </summary>
    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task Pem_store_sni_and_default_certificates_are_each_presented_by_every_worker(string scheduling)
    {
        var pem = Pem("pem.test");
        var encrypted = Pem("encrypted.test", password: "secret");
        var sniA = Pem("a.test");
        var sniB = Pem("b.test");
        var fallback = Pem("default.test");
        var ports = Enumerable.Range(0, 5).Select(_ => WebApiAppCluster.FreePort()).ToArray();
        var settings = new Dictionary<string, string>
        {
            ["Cluster__Scheduling"] = scheduling,
            ["Kestrel__Endpoints__Pem__Url"] = $"https://127.0.0.1:{ports[0]}",
            ["Kestrel__Endpoints__Pem__Certificate__Path"] = pem.CertificatePath,
            ["Kestrel__Endpoints__Pem__Certificate__KeyPath"] = pem.KeyPath,
            ["Kestrel__Endpoints__EncryptedPem__Url"] = $"https://127.0.0.1:{ports[1]}",
            ["Kestrel__Endpoints__EncryptedPem__Certificate__Path"] = encrypted.CertificatePath,
            ["Kestrel__Endpoints__EncryptedPem__Certificate__KeyPath"] = encrypted.KeyPath,
            ["Kestrel__Endpoints__EncryptedPem__Certificate__Password"] = "secret",
            ["Kestrel__Endpoints__Store__Url"] = $"https://127.0.0.1:{ports[2]}",
            ["Kestrel__Endpoints__Store__Certificate__Subject"] = _storeName,
            ["Kestrel__Endpoints__Store__Certificate__Store"] = "My",
            ["Kestrel__Endpoints__Store__Certificate__Location"] = "CurrentUser",
            // Self-signed: not valid by chain, which Kestrel requires of store certificates unless told otherwise.
            ["Kestrel__Endpoints__Store__Certificate__AllowInvalid"] = "true",
            ["Kestrel__Endpoints__Sni__Url"] = $"https://127.0.0.1:{ports[3]}",
            ["Kestrel__Endpoints__Sni__Sni__a.test__Certificate__Path"] = sniA.CertificatePath,
            ["Kestrel__Endpoints__Sni__Sni__a.test__Certificate__KeyPath"] = sniA.KeyPath,
            ["Kestrel__Endpoints__Sni__Sni__b.test__Certificate__Path"] = sniB.CertificatePath,
            ["Kestrel__Endpoints__Sni__Sni__b.test__Certificate__KeyPath"] = sniB.KeyPath,
            ["Kestrel__Endpoints__Default__Url"] = $"https://127.0.0.1:{ports[4]}",
            ["Kestrel__Certificates__Default__Path"] = fallback.CertificatePath,
            ["Kestrel__Certificates__Default__KeyPath"] = fallback.KeyPath,
        };
        await using var cluster = await _app.StartAsync(settings);
        var workers = await cluster.ReadyPidsAsync();

        foreach (var (port, name) in (IEnumerable<(int, string)>)[(ports[0], "pem.test"), (ports[1], "encrypted.test"), (ports[2], _storeName), (ports[3], "a.test"), (ports[3], "b.test"), (ports[4], "default.test")])
        {
            var answered = await Curl.UntilEveryWorkerAnswersAsync(
                workers,
                $"https://{name}:{port}/whoami",
                answer =>
                {
                    Assert.Equal($"CN={name}", answer.Subject);
                    var words = answer.Body.Split(' ', 2);
                    Assert.Equal("HTTP/2 https", words[1]);
                    return int.Parse(words[0], CultureInfo.InvariantCulture);
                },
                "--http2",
                "--resolve",
                $"{name}:{port}:127.0.0.1");
            Assert.Equal(workers.Order(), answered.Order());
        }

        // A name the SNI endpoint has no certificate for is refused in the handshake, as plain Kestrel refuses it.
        var unknown = await Curl.TryGetAsync($"https://c.test:{ports[3]}/whoami", "--resolve", $"c.test:{ports[3]}:127.0.0.1");
        Assert.True(unknown.ExitCode != 0, unknown.ToString());
        Assert.Equal(0, (await cluster.StatusAsync()).Restarts);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_http_ports_and_https_ports_settings_are_bound_by_the_primary_and_served_by_both_workers(bool standalone)
    {
        var fallback = Pem("default.test");
        var (httpPort, httpsPort) = (WebApiAppCluster.FreePort(), WebApiAppCluster.FreePort());
        // Both ways a deployment sets them: the prefixed variable (Docker images set ASPNETCORE_HTTP_PORTS) and the plain key.
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            urls: null,
            environment: new Dictionary<string, string>
            {
                ["ASPNETCORE_HTTP_PORTS"] = httpPort.ToString(CultureInfo.InvariantCulture),
                ["HTTPS_PORTS"] = httpsPort.ToString(CultureInfo.InvariantCulture),
                ["Kestrel__Certificates__Default__Path"] = fallback.CertificatePath,
                ["Kestrel__Certificates__Default__KeyPath"] = fallback.KeyPath,
            },
            standalonePrimary: standalone ? ClusterCli.Assembly : null);
        var workers = await cluster.ReadyPidsAsync();

        Assert.Equal([$"http://+:{httpPort}", $"https://+:{httpsPort}"], cluster.Urls.Order());
        Assert.Equal(workers.Order(), (await Curl.UntilEveryWorkerAnswersAsync(workers, $"http://127.0.0.1:{httpPort}/hello", HelloPid)).Order());
        Assert.Equal(workers.Order(), (await Curl.UntilEveryWorkerAnswersAsync(
            workers,
            $"https://127.0.0.1:{httpsPort}/hello",
            answer =>
            {
                Assert.Equal("CN=default.test", answer.Subject);
                return HelloPid(answer);
            })).Order());
    }

    private (string CertificatePath, string KeyPath) Pem(string name, string? password = null)
    {
        using var certificate = TestCertificate.SelfSigned(name);
        return TestCertificate.WritePem(certificate, _folder.FullName, name, password);
    }

    /// <summary>The worker in the seed routes' "hello from {pid}".</summary>
    private static int HelloPid(Curl.Answer answer) => int.Parse(answer.Body.Split(' ')[^1], CultureInfo.InvariantCulture);
}
