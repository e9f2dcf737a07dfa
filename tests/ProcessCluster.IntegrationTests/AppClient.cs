using System.Net;

namespace ProcessCluster.IntegrationTests;

/// <summary>HTTP to the app under test as a load generator would use it: a new connection per request unless asked otherwise.</summary>
public sealed class AppClient : IDisposable
{
    private readonly HttpClient _client;

    public AppClient(Uri baseAddress, TimeSpan? timeout = null)
    {
        _client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero })
        {
            BaseAddress = baseAddress,
            Timeout = timeout ?? TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>GET on a new connection; returns the body, throwing on a non-success status.</summary>
    public async Task<string> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.ConnectionClose = true;
        using var response = await _client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return response.StatusCode == HttpStatusCode.OK ? body : throw new HttpRequestException($"{response.StatusCode}: {body}");
    }

    /// <summary>The pid in "hello from PID".</summary>
    public async Task<int> HelloPidAsync() => int.Parse((await GetAsync("/hello"))["hello from ".Length..]);

    public void Dispose() => _client.Dispose();
}
