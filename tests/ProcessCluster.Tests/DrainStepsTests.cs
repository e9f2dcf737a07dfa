using ProcessCluster.Worker;

namespace ProcessCluster.Tests;

public class DrainStepsTests
{
    [Fact]
    public async Task Steps_run_one_after_the_other_in_the_order_added()
    {
        var steps = new DrainSteps();
        var ran = new List<string>();
        var firstMayEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        steps.Add(async _ =>
        {
            ran.Add("first began");
            await firstMayEnd.Task;
            ran.Add("first ended");
        });
        steps.Add(_ =>
        {
            ran.Add("second");
            return Task.CompletedTask;
        });

        var running = steps.RunAsync(TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.Equal(["first began"], ran);
        firstMayEnd.SetResult();
        await running;

        Assert.Equal(["first began", "first ended", "second"], ran);
    }

    [Fact]
    public async Task A_step_cut_off_by_the_window_does_not_stop_the_next_and_a_step_added_later_runs_at_once_with_the_window()
    {
        var steps = new DrainSteps();
        var tokens = new List<CancellationToken>();
        steps.Add(token => Task.Delay(Timeout.Infinite, token));
        steps.Add(token =>
        {
            tokens.Add(token);
            return Task.CompletedTask;
        });

        await steps.RunAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        steps.Add(token =>
        {
            tokens.Add(token);
            return Task.CompletedTask;
        });

        Assert.Equal(2, tokens.Count);
        Assert.All(tokens, token => Assert.True(token.IsCancellationRequested));
    }
}
