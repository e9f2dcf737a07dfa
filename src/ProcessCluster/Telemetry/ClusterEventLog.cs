namespace ProcessCluster.Telemetry;

/// <summary>Something the cluster did or saw, for people watching it: a fork, an exit and its reason, a scale decision, a reload.</summary>
public sealed record ClusterEvent(long Sequence, DateTimeOffset Time, ClusterEventKind Kind, int? WorkerId, int? Pid, string Message);

/// <summary>What kind of thing a <see cref="ClusterEvent"/> records.</summary>
public enum ClusterEventKind
{
    /// <summary>A worker process was started.</summary>
    Forked,
    /// <summary>A worker became ready to serve.</summary>
    Ready,
    /// <summary>A worker process ended, with its reason.</summary>
    Exited,
    /// <summary>The desired worker count changed.</summary>
    Scaled,
    /// <summary>A step or the outcome of a rolling reload.</summary>
    Reload,
    /// <summary>Workers kept dying early and restarting stopped.</summary>
    CrashLoop,
}

/// <summary>
/// The recent events, newest last, bounded so a long-lived primary does not grow. Written by the supervisor loop;
/// read from anywhere (the control socket, the dashboard), and <see cref="Appended"/> tells listeners as they happen.
/// </summary>
public sealed class ClusterEventLog(int capacity = 500)
{
    private readonly Queue<ClusterEvent> _events = new();
    private readonly object _lock = new();
    private long _sequence;

    /// <summary>Raised after an event is added, on the writer's thread: handlers must be quick and must not throw.</summary>
    public event Action<ClusterEvent>? Appended;

    internal void Add(ClusterEventKind kind, string message, int? workerId = null, int? pid = null)
    {
        ClusterEvent added;
        lock (_lock)
        {
            added = new ClusterEvent(++_sequence, DateTimeOffset.UtcNow, kind, workerId, pid, message);
            _events.Enqueue(added);
            if (_events.Count > capacity)
            {
                _events.Dequeue();
            }
        }

        Appended?.Invoke(added);
    }

    /// <summary>The last <paramref name="count"/> events, oldest first.</summary>
    public IReadOnlyList<ClusterEvent> Recent(int count)
    {
        lock (_lock)
        {
            return _events.Skip(Math.Max(0, _events.Count - count)).ToList();
        }
    }
}
