namespace ProcessCluster.Worker;

/// <summary>
/// How many connections the primary asked this worker to shed (it holds more than its share, for instance after new
/// workers started). Each new request may take one: the server then closes that connection after the response
/// (HTTP/1 <c>Connection: close</c>), so its client reconnects, through the primary, to a less loaded worker.
/// </summary>
internal sealed class ShedCounter
{
    private int _remaining;

    /// <summary>The primary's latest count replaces the previous one.</summary>
    public void Set(int connections) => Volatile.Write(ref _remaining, connections);

    /// <summary>True when this request's connection should be closed after its response.</summary>
    public bool TakeConnection()
    {
        var remaining = Volatile.Read(ref _remaining);
        while (remaining > 0)
        {
            var seen = Interlocked.CompareExchange(ref _remaining, remaining - 1, remaining);
            if (seen == remaining)
            {
                return true;
            }

            remaining = seen;
        }

        return false;
    }
}
