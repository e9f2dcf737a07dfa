namespace ProcessCluster.Tests;

public class ExitStatusTests
{
    [Theory]
    [InlineData(null, 9, "killed by signal SIGKILL")]
    [InlineData(null, 15, "killed by signal SIGTERM")]
    [InlineData(42, null, "exited with error code 42")]
    [InlineData(137, null, "exited with error code 137")]
    [InlineData(0, null, "exited cleanly")]
    public void Describes_how_a_worker_ended(int? code, int? signal, string expected)
    {
        Assert.Equal(expected, new ExitStatus(code, signal).Describe());
    }
}
