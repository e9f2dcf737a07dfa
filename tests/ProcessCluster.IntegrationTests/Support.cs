using System.Diagnostics;
using System.Net;

namespace ProcessCluster.IntegrationTests;

/// <summary>Waits by polling with a deadline, never by a fixed sleep.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"no {what} within {timeout.TotalSeconds} s{(diagnostics is null ? "" : "\n" + diagnostics())}");
            }

            await Task.Delay(20);
        }
    }

    public static async Task<T> UntilAsync<T>(Func<Task<T?>> attempt, TimeSpan timeout, string what)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await attempt() is { } result)
                {
                    return result;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"no {what} within {timeout.TotalSeconds} s");
            }

            await Task.Delay(20);
        }
    }
}

/// <summary>Processes by pid, through /proc and kill(2).</summary>
public static partial class ProcessTree
{
    public static IReadOnlyList<int> Children(int pid)
    {
        try
        {
            return Directory.GetDirectories($"/proc/{pid}/task")
                .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(int.Parse)
                .ToList();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var state = File.ReadAllLines($"/proc/{pid}/status").FirstOrDefault(line => line.StartsWith("State:", StringComparison.Ordinal));
            return state is not null && !state.Contains("zombie", StringComparison.Ordinal) && !state.Contains("(dead)", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static void Kill(int pid, int signal = 9) => _ = Native.Kill(pid, signal);

    public static IReadOnlyDictionary<string, string> Environment(int pid) =>
        File.ReadAllText($"/proc/{pid}/environ")
            .Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(entry => entry.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .GroupBy(pair => pair[0])
            .ToDictionary(group => group.Key, group => group.First()[1]);

    private static partial class Native
    {
        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
        public static partial int Kill(int pid, int signal);
    }
}

/// <summary>HTTP as a load generator would use it: a new connection per request unless asked otherwise.</summary>
public sealed class DemoClient : IDisposable
{
    private readonly HttpClient _client;

    public DemoClient(Uri baseAddress, TimeSpan? timeout = null)
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
