namespace ProcessCluster.Policies;

/// <summary>
/// Keep-alive connections stay with the worker they were opened to, so after a scale-up or a restart the new worker
/// would get none of them (in the Node and PM2 anchors the replacement worker served 0 responses). This decides how
/// many connections each worker should shed (close after their next response, so their clients reconnect through
/// the primary): its surplus over an even share, when that surplus is worth the reconnections.
/// </summary>
internal static class RebalancePolicy
{
    /// <summary>Connections each worker should shed, in the order given; all zero when the spread is even enough.</summary>
    public static int[] Shed(IReadOnlyList<int> openConnections)
    {
        var shed = new int[openConnections.Count];
        if (openConnections.Count < 2)
        {
            return shed;
        }

        var share = (int)Math.Ceiling(openConnections.Sum() / (double)openConnections.Count);
        var worthIt = Math.Max(2, share / 4);
        for (var i = 0; i < shed.Length; i++)
        {
            var surplus = openConnections[i] - share;
            shed[i] = surplus >= worthIt ? surplus : 0;
        }

        return shed;
    }
}
