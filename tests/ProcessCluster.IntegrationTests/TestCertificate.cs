using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// A self-signed server certificate for 127.0.0.1 and localhost, made at test time and written to a password-protected
/// pfx for Kestrel:Certificates:Default; clients trust exactly this certificate (by thumbprint). Disposing deletes the file.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    private readonly DirectoryInfo _directory;

    private TestCertificate(DirectoryInfo directory, string path, string password, string thumbprint)
    {
        _directory = directory;
        Path = path;
        Password = password;
        Thumbprint = thumbprint;
    }

    public string Path { get; }

    public string Password { get; }

    public string Thumbprint { get; }

    /// <summary>What a cluster needs to serve https with this certificate, every worker reading it as plain Kestrel would.</summary>
    public IReadOnlyDictionary<string, string> KestrelSettings => new Dictionary<string, string>
    {
        ["Kestrel__Certificates__Default__Path"] = Path,
        ["Kestrel__Certificates__Default__Password"] = Password,
    };

    public static TestCertificate Create()
    {
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var pfx = SelfSignedPfx(password);
        var directory = Directory.CreateTempSubdirectory("processcluster-cert-");
        var path = System.IO.Path.Combine(directory.FullName, "server.pfx");
        File.WriteAllBytes(path, pfx);
        using var certificate = X509CertificateLoader.LoadPkcs12(pfx, password);
        return new TestCertificate(directory, path, password, certificate.Thumbprint);
    }

    /// <summary>True for this certificate and no other.</summary>
    public bool IsThis(X509Certificate? presented) =>
        presented is not null && string.Equals(presented.GetCertHashString(), Thumbprint, StringComparison.OrdinalIgnoreCase);

    public void Dispose() => _directory.Delete(recursive: true);

    /// <summary>A self-signed server certificate for 127.0.0.1 and localhost, valid for a day, as a pfx with this password.</summary>
    public static byte[] SelfSignedPfx(string password)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return certificate.Export(X509ContentType.Pfx, password);
    }
}
