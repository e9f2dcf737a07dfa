using ProcessCluster.Control;
using ProcessCluster.Interop;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Tests;

/// <summary>Operator input: worker counts and signal names.</summary>
public class ControlInputTests
{
    [Theory]
    [InlineData("3", 2, 3)]
    [InlineData("+2", 2, 4)]
    [InlineData("-1", 2, 1)]
    [InlineData(" 5 ", 1, 5)]
    public void A_scale_target_resolves_against_the_desired_count(string text, int current, int expected) =>
        Assert.Equal(expected, ScaleTarget.Parse(text).Resolve(current));

    [Theory]
    [InlineData("0")]
    [InlineData("-")]
    [InlineData("three")]
    [InlineData("")]
    [InlineData(null)]
    public void A_bad_scale_target_is_refused(string? text) =>
        Assert.Contains("is not a worker count", Assert.Throws<FormatException>(() => ScaleTarget.Parse(text)).Message);

    [Fact]
    public void A_scale_target_outside_the_limits_is_refused()
    {
        Assert.Contains("between 1 and", Assert.Throws<FormatException>(() => ScaleTarget.Parse("-2").Resolve(2)).Message);
        Assert.Contains("between 1 and", Assert.Throws<FormatException>(() => ScaleTarget.Parse("100000").Resolve(2)).Message);
    }

    [Theory]
    [InlineData("SIGKILL", 9)]
    [InlineData("kill", 9)]
    [InlineData("term", 15)]
    [InlineData("9", 9)]
    [InlineData("SIGHUP", 1)]
    public void Signal_names_and_numbers_are_understood(string text, int signal) => Assert.Equal(signal, SignalNames.Parse(text));

    [Theory]
    [InlineData("SIGFOO")]
    [InlineData("0")]
    [InlineData("99")]
    [InlineData("")]
    public void Unknown_signals_are_refused(string text) => Assert.Null(SignalNames.Parse(text));

    [Fact]
    public void The_event_log_keeps_the_newest_and_numbers_them()
    {
        var log = new ClusterEventLog(capacity: 3);
        var seen = new List<long>();
        log.Appended += @event => seen.Add(@event.Sequence);
        for (var i = 1; i <= 5; i++)
        {
            log.Add(ClusterEventKind.Forked, $"worker {i} forked", i);
        }

        Assert.Equal([3, 4, 5], log.Recent(10).Select(@event => @event.WorkerId!.Value));
        Assert.Equal([4, 5], log.Recent(2).Select(@event => @event.WorkerId!.Value));
        Assert.Equal([1, 2, 3, 4, 5], seen);
    }
}
