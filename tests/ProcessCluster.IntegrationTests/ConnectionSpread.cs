namespace ProcessCluster.IntegrationTests;

/// <summary>Which worker each of many new connections reached, for the tests of protocols whose connections stay put.</summary>
public static class ConnectionSpread
{
    /// <summary>
    /// Opens connections one at a time (<paramref name="pidOfNewConnection"/> opens the Nth, uses it and returns the
    /// pid that served it) and counts them by pid: 16, or in Shared mode, where the kernel chooses, up to 200 until two
    /// workers have one.
    /// </summary>
    public static async Task<IReadOnlyDictionary<int, int>> CountAsync(Func<int, Task<int>> pidOfNewConnection)
    {
        var connectionsByPid = new Dictionary<int, int>();
        for (var opened = 0; opened < 16 || (connectionsByPid.Count < 2 && opened < 200); opened++)
        {
            var pid = await pidOfNewConnection(opened);
            connectionsByPid[pid] = connectionsByPid.GetValueOrDefault(pid) + 1;
        }

        return connectionsByPid;
    }

    /// <summary>Every worker got connections; in RoundRobin, which alternates, a fair share of them.</summary>
    public static void AssertSpread(IReadOnlyDictionary<int, int> connectionsByPid, IReadOnlyList<int> workers, string scheduling)
    {
        Assert.Equal(workers.Order(), connectionsByPid.Keys.Order());
        if (scheduling == "RoundRobin")
        {
            Assert.All(connectionsByPid.Values, connections => Assert.InRange(connections, 4, 12));
        }
    }
}
