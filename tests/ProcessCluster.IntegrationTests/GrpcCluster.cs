using Grpc.Net.Client;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The gRPC fixture (tests/ProcessCluster.GrpcApp) as a real cluster: HTTP/2 only, over h2c on an http URL or over
/// TLS on an https one with a certificate made for the test. Each channel it opens has its own handler, so its own
/// HTTP/2 connection.
/// </summary>
public sealed class GrpcCluster : IAsyncDisposable
{
    private readonly TestCertificate? _certificate;

    private GrpcCluster(TestCluster cluster, TestCertificate? certificate)
    {
        Cluster = cluster;
        _certificate = certificate;
    }

    public TestCluster Cluster { get; }

    public static string Assembly => TestCluster.BuiltAssembly(Path.Combine("tests", "ProcessCluster.GrpcApp"), "ProcessCluster.GrpcApp.dll");

    public static async Task<GrpcCluster> StartAsync(string scheduling, bool tls, IReadOnlyDictionary<string, string>? settings = null)
    {
        var certificate = tls ? TestCertificate.Create() : null;
        var environment = new Dictionary<string, string>(certificate?.KestrelSettings ?? new Dictionary<string, string>())
        {
            ["Kestrel__EndpointDefaults__Protocols"] = "Http2",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        try
        {
            var cluster = await TestCluster.StartAsync(scheduling, workers: 2, urls: tls ? "https://127.0.0.1:0" : "http://127.0.0.1:0", environment: environment, app: Assembly);
            return new GrpcCluster(cluster, certificate);
        }
        catch
        {
            certificate?.Dispose();
            throw;
        }
    }

    /// <summary>A channel on a connection of its own, trusting only the test's certificate.</summary>
    public GrpcChannel OpenChannel()
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false };
        if (_certificate is { } certificate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => certificate.IsThis(presented);
        }

        return GrpcChannel.ForAddress(Cluster.BaseAddress, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        _certificate?.Dispose();
    }
}
