using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Continuous load for the tests that promise "no request lost": <c>concurrency</c> loops send GETs back to back over
/// keep-alive connections and count every outcome. Stopping lets requests in flight finish; none is cancelled.
/// </summary>
public sealed partial class LoadGenerator : IAsyncDisposable
{
    private const int MaxSamples = 20;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RefusedBackoff = TimeSpan.FromMilliseconds(10);

    private readonly HttpClient _client;
    private readonly Uri _url;
    private readonly bool _newConnectionPerRequest;
    private readonly ConcurrentDictionary<int, long> _responsesByPid = new();
    private readonly ConcurrentQueue<string> _failureSamples = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task[] _loops;
    private volatile bool _stopping;
    private long _succeeded;
    private long _failed;
    private long _refused;
    private LoadReport? _report;

    private LoadGenerator(Uri url, int concurrency, bool newConnectionPerRequest)
    {
        _url = url;
        _newConnectionPerRequest = newConnectionPerRequest;
        _client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        })
        {
            Timeout = RequestTimeout,
        };
        _loops = Enumerable.Range(0, concurrency).Select(_ => Task.Run(LoopAsync)).ToArray();
    }

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Successful answers from one worker so far.</summary>
    public long ResponsesFrom(int pid) => _responsesByPid.GetValueOrDefault(pid);

    public static LoadGenerator Start(Uri url, int concurrency = 16, bool newConnectionPerRequest = false) =>
        new(url, concurrency, newConnectionPerRequest);

    /// <summary>Waits until <paramref name="count"/> requests in all have succeeded.</summary>
    public Task WaitForSuccessesAsync(long count, TimeSpan timeout) =>
        Poll.UntilAsync(() => Succeeded >= count, timeout, $"{count} successful requests", () => Describe(Snapshot()));

    /// <summary>Stops sending; requests in flight finish and are counted.</summary>
    public async Task<LoadReport> StopAsync()
    {
        _stopping = true;
        await Task.WhenAll(_loops);
        return _report ??= Snapshot();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _client.Dispose();
    }

    private LoadReport Snapshot() => new(
        Succeeded, Failed, Interlocked.Read(ref _refused), new Dictionary<int, long>(_responsesByPid), _failureSamples.ToList());

    private static string Describe(LoadReport report) =>
        $"succeeded {report.Succeeded}, failed {report.Failed}, refused {report.Refused}\n{string.Join('\n', report.FailureSamples)}";

    private async Task LoopAsync()
    {
        while (!_stopping)
        {
            if (!await SendOneAsync())
            {
                await Task.Delay(RefusedBackoff);
            }
        }
    }

    /// <summary>One request, counted; false when it was refused (the caller backs off).</summary>
    private async Task<bool> SendOneAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _url);
        request.Headers.ConnectionClose = _newConnectionPerRequest;
        try
        {
            using var response = await _client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK && PidPattern().Match(body) is { Success: true } match)
            {
                _responsesByPid.AddOrUpdate(int.Parse(match.Groups[1].Value), 1, (_, count) => count + 1);
                Interlocked.Increment(ref _succeeded);
            }
            else
            {
                Fail($"{(int)response.StatusCode} {response.StatusCode}: {body}");
            }
        }
        catch (HttpRequestException error) when (error.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            Interlocked.Increment(ref _refused);
            return false;
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException or IOException)
        {
            Fail($"{error.GetType().Name}: {error.Message}{(error.InnerException is { } inner ? $" ({inner.Message})" : string.Empty)}");
        }

        return true;
    }

    private void Fail(string description)
    {
        Interlocked.Increment(ref _failed);
        if (_failureSamples.Count < MaxSamples)
        {
            _failureSamples.Enqueue($"at {_clock.Elapsed.TotalSeconds:0.000} s: {description}");
        }
    }

    [GeneratedRegex(@"from:? (\d+)")]
    private static partial Regex PidPattern();
}
