using ProcessCluster.Interop;

namespace ProcessCluster.Tests;

public class ExitStatusTests
{
    [Theory]
    [InlineData(null, 9, "killed by signal SIGKILL")]
    [InlineData(null, 15, "killed by signal SIGTERM")]
    [InlineData(42, null, "exited with error code 42")]
    [InlineData(137, null, "exited with error code 137")]
    [InlineData(0, null, "exited cleanly")]
    [InlineData(null, null, "ended, status unknown")]
    public void Describes_how_a_worker_ended(int? code, int? signal, string expected)
    {
        Assert.Equal(expected, new ExitStatus(code, signal).Describe());
    }

    [Fact]
    public void Waiting_for_a_process_that_is_not_a_waitable_child_reports_an_unknown_end_instead_of_throwing()
    {
        // waitid fails with ECHILD as it does for a worker the kernel or another waitpid(-1) already reaped.
        Assert.Equal("ended, status unknown", ProcessInterop.WaitForExit(1).Describe());
    }
}
