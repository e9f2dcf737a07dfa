namespace ProcessCluster.IntegrationTests;

/// <summary>The README's first command: the seed's demo, run as a cluster, serves the seed's routes.</summary>
public class SeedDemoTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_demo_answers_from_its_workers_and_replaces_the_one_kill_process_ends()
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2, app: TestCluster.SeedDemoAssembly);
        using var client = new AppClient(cluster.BaseAddress);
        var workers = await cluster.ReadyPidsAsync();

        Assert.Contains(int.Parse((await client.GetAsync("/"))["response from: ".Length..]), workers);
        Assert.Contains(await client.HelloPidAsync(), workers);
        var answer = await client.GetAsync("/kill-process");
        var victim = int.Parse(answer.Split(' ')[1]);
        Assert.Equal($"process: {victim} died", answer);
        Assert.Contains(victim, workers);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2 && !pids.Contains(victim), "a replacement", Deadline);
    }
}
