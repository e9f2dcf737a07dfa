using ProcessCluster.Primary;

namespace ProcessCluster.Policies;

internal enum ReplacementPhase
{
    /// <summary>Queued behind other replacements.</summary>
    Waiting,

    /// <summary>The successor is starting; the old worker still serves.</summary>
    StartingSuccessor,

    /// <summary>The successor is ready; the old worker is out of dispatch, finishing its requests.</summary>
    DrainingOld,
}

/// <summary>One worker being replaced: who, why, how far along, and its successor once started.</summary>
internal sealed record Replacement(int OldWorkerId, StopReason Reason, ReplacementPhase Phase, int? SuccessorId);

/// <summary>What a worker's exit meant for the replacements.</summary>
internal enum ReplacementOutcome
{
    /// <summary>A successor died before it was ready: the step failed and its old worker stays.</summary>
    SuccessorFailed,

    /// <summary>The drained old worker exited: the step is done.</summary>
    Completed,

    /// <summary>An old worker died before its successor was ready: the successor is its replacement already.</summary>
    OldWorkerLost,
}

/// <summary>
/// Surge-then-drain replacement (reload, recycling), as pure bookkeeping the supervisor applies: replacements run in
/// order, a bounded number at a time; each starts a successor, waits until it is ready, only then drains the old
/// worker, and is done when the old worker has exited. The number of processes stays within workers + concurrency.
/// </summary>
internal sealed class ReplacementQueue
{
    private readonly List<Replacement> _entries = [];

    public IReadOnlyList<Replacement> Entries => _entries;

    public bool Contains(int oldWorkerId) => _entries.Exists(entry => entry.OldWorkerId == oldWorkerId);

    public bool Any(Func<Replacement, bool> predicate) => _entries.Any(predicate);

    /// <summary>Queues a replacement; a worker already queued keeps its first reason.</summary>
    public void Enqueue(int oldWorkerId, StopReason reason)
    {
        if (!Contains(oldWorkerId))
        {
            _entries.Add(new Replacement(oldWorkerId, reason, ReplacementPhase.Waiting, null));
        }
    }

    /// <summary>The waiting replacements to start now, oldest first, so that at most <paramref name="concurrency"/> run.</summary>
    public IReadOnlyList<Replacement> TakeNext(int concurrency)
    {
        var running = _entries.Count(entry => entry.Phase != ReplacementPhase.Waiting);
        var next = _entries.Where(entry => entry.Phase == ReplacementPhase.Waiting).Take(Math.Max(0, concurrency - running)).ToList();
        foreach (var entry in next)
        {
            Replace(entry, entry with { Phase = ReplacementPhase.StartingSuccessor });
        }

        return next;
    }

    /// <summary>The successor of <paramref name="oldWorkerId"/> was started.</summary>
    public void SuccessorStarted(int oldWorkerId, int successorId)
    {
        if (Find(entry => entry.OldWorkerId == oldWorkerId && entry.Phase == ReplacementPhase.StartingSuccessor) is { } entry)
        {
            Replace(entry, entry with { SuccessorId = successorId });
        }
    }

    /// <summary>A worker became ready; if it is a successor, returns its step: the old worker is to be drained now.</summary>
    public Replacement? WorkerReady(int workerId)
    {
        if (Find(entry => entry.SuccessorId == workerId && entry.Phase == ReplacementPhase.StartingSuccessor) is not { } entry)
        {
            return null;
        }

        var draining = entry with { Phase = ReplacementPhase.DrainingOld };
        Replace(entry, draining);
        return draining;
    }

    /// <summary>A worker exited; returns what that meant for its replacement, if it had one. Its step leaves the queue.</summary>
    public (Replacement Step, ReplacementOutcome Outcome)? WorkerExited(int workerId)
    {
        if (Find(entry => entry.SuccessorId == workerId && entry.Phase == ReplacementPhase.StartingSuccessor) is { } failed)
        {
            _entries.Remove(failed);
            return (failed, ReplacementOutcome.SuccessorFailed);
        }

        if (Find(entry => entry.OldWorkerId == workerId) is not { } step)
        {
            return null;
        }

        _entries.Remove(step);
        return step.Phase switch
        {
            ReplacementPhase.DrainingOld => (step, ReplacementOutcome.Completed),
            ReplacementPhase.StartingSuccessor when step.SuccessorId is not null => (step, ReplacementOutcome.OldWorkerLost),
            _ => null,
        };
    }

    /// <summary>Drops the replacements that have not started their successor yet and match; returns them.</summary>
    public IReadOnlyList<Replacement> CancelWaiting(Func<Replacement, bool> predicate)
    {
        var cancelled = _entries.Where(entry => entry.Phase == ReplacementPhase.Waiting && predicate(entry)).ToList();
        _entries.RemoveAll(cancelled.Contains);
        return cancelled;
    }

    private Replacement? Find(Predicate<Replacement> predicate) => _entries.Find(predicate);

    private void Replace(Replacement old, Replacement updated) => _entries[_entries.IndexOf(old)] = updated;
}
