using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>curl as a person runs it against the cluster: one new connection per call, any certificate accepted (-k), the certificate it was shown read from its verbose output.</summary>
public static partial class Curl
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>One answer: the body, the HTTP version ("1.1", "2"), and the subject of the server's certificate (null over plain HTTP).</summary>
    public sealed record Answer(string Body, string HttpVersion, string? Subject);

    /// <summary>Fetches <paramref name="url"/>; a failure of curl fails the test with its output.</summary>
    public static async Task<Answer> GetAsync(string url, params string[] options)
    {
        var run = await TryGetAsync(url, options);
        Assert.True(run.ExitCode == 0, run.ToString());
        var lastLine = run.Output.LastIndexOf('\n');
        var subject = SubjectLine().Match(run.Error);
        return new Answer(run.Output[..lastLine], run.Output[(lastLine + 1)..], subject.Success ? subject.Groups[1].Value.Trim() : null);
    }

    /// <summary>Fetches <paramref name="url"/> and returns how curl ended, for the calls that are meant to fail.</summary>
    public static Task<CliResult> TryGetAsync(string url, params string[] options) =>
        ProcessRun.RunAsync("curl", ["-sS", "-k", "-v", "--max-time", "10", "-w", "\n%{http_version}", .. options, url], TimeSpan.FromSeconds(20));

    /// <summary>
    /// Asks until every worker has answered (round-robin, or the kernel, reaches each): <paramref name="pidOf"/> checks
    /// each answer and says which worker gave it. Returns the workers that answered.
    /// </summary>
    public static async Task<HashSet<int>> UntilEveryWorkerAnswersAsync(IReadOnlyList<int> workers, string url, Func<Answer, int> pidOf, params string[] options)
    {
        var seen = new HashSet<int>();
        await Poll.UntilAsync(
            async () =>
            {
                seen.Add(pidOf(await GetAsync(url, options)));
                return seen.IsSupersetOf(workers);
            },
            Deadline,
            $"answers from every worker on {url}",
            () => $"seen {string.Join(", ", seen)} of {string.Join(", ", workers)}");
        return seen;
    }

    [GeneratedRegex(@"^\*\s+subject:\s*(.*)$", RegexOptions.Multiline)]
    private static partial Regex SubjectLine();
}
