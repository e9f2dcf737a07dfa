using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// A self-signed server certificate for 127.0.0.1 and localhost, made at test time and written to a password-protected
/// pfx for Kestrel:Certificates:Default; clients trust exactly this certificate (by thumbprint). Disposing deletes the file.
/// Its static helpers make other certificates (by name) and write them as PEM certificate and key files.
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
        using var certificate = SelfSigned("localhost");
        return certificate.Export(X509ContentType.Pfx, password);
    }

    /// <summary>
    /// A self-signed server certificate with its RSA-2048 key, valid for a day, named CN=<paramref name="name"/>, for that
    /// name, localhost and 127.0.0.1 (so a client tells certificates apart by subject, whatever address it dials).
    /// </summary>
    public static X509Certificate2 SelfSigned(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName(name);
        if (name != "localhost")
        {
            names.AddDnsName("localhost");
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>
    /// Writes <paramref name="certificate"/> as PEM files, as Kestrel's Certificate:Path and Certificate:KeyPath take them:
    /// {name}.crt, and {name}.key as PKCS#8, encrypted with <paramref name="password"/> when one is given.
    /// </summary>
    public static (string CertificatePath, string KeyPath) WritePem(X509Certificate2 certificate, string directory, string name, string? password = null)
    {
        var certificatePath = System.IO.Path.Combine(directory, name + ".crt");
        var keyPath = System.IO.Path.Combine(directory, name + ".key");
        using var key = certificate.GetRSAPrivateKey()!;
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, password is null
            ? key.ExportPkcs8PrivateKeyPem()
            : key.ExportEncryptedPkcs8PrivateKeyPem(password, new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000)));
        return (certificatePath, keyPath);
    }
}
