using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Deploys as people do them: a release layout with current -> releases/vN swapped by `ln -sfn`, files overwritten in
/// place, and bad releases (one that crashes at start, one that never listens), each followed by a reload under load.
/// </summary>
public class DeployTests
{
    private const int SIGHUP = 1;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_reload_runs_the_release_current_points_to_now_then_files_overwritten_in_place_without_a_failed_request(bool standalonePrimary)
    {
        using var layout = new ReleaseLayout();
        layout.Add("v1");
        layout.Add("v2");
        layout.Point("v1");
        await using var cluster = await layout.StartAsync(standalonePrimary);
        using var client = new AppClient(cluster.BaseAddress);
        Assert.StartsWith("release v1 build v1 ", await client.GetAsync("/release"));
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/release"), concurrency: 8);
        await load.WaitForSuccessesAsync(100, Deadline);

        layout.Point("v2");
        await ReloadUntilEveryAnswerIsAsync(cluster, client, "release v2 build v2 ");

        layout.Overwrite("v2.1");
        await ReloadUntilEveryAnswerIsAsync(cluster, client, "release v2.1 build v2.1 ");

        await load.WaitForSuccessesAsync(load.Succeeded + 100, Deadline);
        (await load.StopAsync()).AssertNoneFailed();
    }

    [Fact]
    public async Task A_release_that_crashes_at_start_or_never_listens_aborts_the_reload_says_which_and_why_and_the_old_workers_serve_on()
    {
        using var layout = new ReleaseLayout();
        layout.Add("v1");
        layout.Add("v2", release: "broken");
        layout.Add("v3", release: "silent");
        layout.Point("v1");
        await using var cluster = await layout.StartAsync(standalone: false, ("Cluster__ReadyTimeout", "00:00:04"));
        var serving = await cluster.ReadyPidsAsync();
        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/release"), concurrency: 8);
        await load.WaitForSuccessesAsync(100, Deadline);

        layout.Point("v2");
        var crashed = await ClusterCli.RunAsync("reload", "--pid", cluster.PrimaryPid.ToString());
        Assert.True(crashed.ExitCode == 1, crashed.ToString());
        Assert.True(Regex.IsMatch(crashed.Error, @"reload failed: worker \d+ \(pid \d+\) of release \S+/releases/v2 did not become ready: killed by signal SIGABRT \(its output is in the log above\); worker \d+ keeps serving"), crashed.Error);

        layout.Point("v3");
        var silent = await ClusterCli.RunAsync("reload", "--pid", cluster.PrimaryPid.ToString());
        Assert.True(silent.ExitCode == 1, silent.ToString());
        Assert.True(Regex.IsMatch(silent.Error, @"reload failed: worker \d+ \(pid \d+\) of release \S+/releases/v3 did not become ready: not listening within Cluster:ReadyTimeout \(4 s\), killed; worker \d+ keeps serving"), silent.Error);

        var status = await ClusterCli.StatusAsync(cluster.PrimaryPid);
        Assert.Contains(status.Events, @event => @event.Message.StartsWith("rolling reload aborted: ", StringComparison.Ordinal) && @event.Message.Contains("/releases/v2 "));
        Assert.Contains(status.Events, @event => @event.Message.StartsWith("rolling reload aborted: ", StringComparison.Ordinal) && @event.Message.Contains("/releases/v3 "));
        Assert.Equal(serving.Order(), TestCluster.ReadyPids(status).Order());
        Assert.All(status.Workers.Where(worker => serving.Contains(worker.Pid)), worker => Assert.EndsWith("/releases/v1", worker.Release));

        await load.WaitForSuccessesAsync(load.Succeeded + 100, Deadline);
        var report = await load.StopAsync();
        report.AssertNoneFailed();
        Assert.Equal(serving.Order(), report.ResponsesByPid.Keys.Order());
    }

    /// <summary>SIGHUP, then waits until the reload has finished and every worker answers <paramref name="expected"/>.</summary>
    private static async Task ReloadUntilEveryAnswerIsAsync(TestCluster cluster, AppClient client, string expected)
    {
        var before = await cluster.ReadyPidsAsync();
        var finished = cluster.CountLines("Rolling reload finished");
        cluster.Signal(SIGHUP);
        await Poll.UntilAsync(() => cluster.CountLines("Rolling reload finished") > finished, Deadline, "the reload to finish");
        var after = await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Intersect(before).Any(), "two new workers", Deadline);
        var answers = new List<string>();
        for (var i = 0; i < 2 * after.Count; i++)
        {
            answers.Add(await client.GetAsync("/release"));
        }

        Assert.All(answers, answer => Assert.StartsWith(expected, answer));
    }
}
