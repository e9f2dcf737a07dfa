namespace ProcessCluster.Distribution;

/// <summary>
/// The worker chosen for the next connection, and the shedding worker passed over for it, if any; an affine choice
/// (the connection's own worker) takes no one's turn.
/// </summary>
internal readonly record struct TargetChoice(int WorkerId, int? PassedOver, bool Affine = false);

/// <summary>
/// Which worker takes the next connection, as a pure choice (no sockets, no threads, no lock; times are the caller's,
/// in ms): each ready worker in turn, or the least busy; never a retired or blocked one, or one at its bound of
/// unacknowledged hand-offs; a worker shedding connections is passed over while another can take them. Nothing changes
/// until the caller reports the send went out (<see cref="Sent"/>): a send that did not happen costs no turn and no shed.
/// </summary>
internal sealed class TargetSelector(DispatchMode mode, int maxInFlightPerWorker, long stuckAfterMilliseconds)
{
    /// <summary>A healthy worker acknowledges a connection within milliseconds.</summary>
    private const long UnacknowledgedIsStuckMilliseconds = 500;

    /// <summary>The load of a stuck worker: chosen only when every worker is stuck.</summary>
    private const long Saturated = 1_000_000;

    private readonly List<Candidate> _workers = [];
    private int _next;

    public void Add(int workerId, long now)
    {
        if (Find(workerId) < 0)
        {
            _workers.Add(new Candidate(workerId) { ReportedAt = now });
        }
    }

    public void Remove(int workerId)
    {
        var index = Find(workerId);
        if (index < 0)
        {
            return;
        }

        _workers.RemoveAt(index);
        if (index < _next)
        {
            _next--;
        }
    }

    /// <summary>The worker takes no new connections, for good.</summary>
    public void Retire(int workerId) => Update(workerId, worker => worker.Retired = true);

    /// <summary>Its channel has no room (blocked) or has room again: a blocked worker is skipped meanwhile.</summary>
    public void SetBlocked(int workerId, bool blocked) => Update(workerId, worker => worker.Blocked = blocked);

    /// <summary>
    /// The worker was asked to close <paramref name="connections"/> keep-alive connections so their clients spread out:
    /// that many of the next connections go to the others, not back to it, until <paramref name="until"/> (its next load
    /// report). Bounded by count, so clients that open a connection per request hardly notice.
    /// </summary>
    public void Shedding(int workerId, int connections, long until) =>
        Update(workerId, worker => (worker.ShedRemaining, worker.SheddingUntil) = (connections, until));

    /// <summary>A worker's report of its requests in flight, for least-busy choice.</summary>
    public void OnLoadReport(int workerId, int requestsInFlight, long now) =>
        Update(workerId, worker => (worker.ReportedInFlight, worker.SentSinceReport, worker.ReportedAt) = (requestsInFlight, 0, now));

    /// <summary>The worker for the next connection, or null when none can take one now.</summary>
    /// <param name="handoffs">What each worker holds unacknowledged (the hand-off ledger's view).</param>
    /// <param name="affinity">
    /// The worker the connection belongs to. It takes the connection when it can; while it is at its bound or its channel
    /// is full, the connection waits for it (its acknowledgements come within milliseconds: elsewhere, the request would
    /// only fail). A worker that is gone, retired, or has left a hand-off unacknowledged for long gets the usual choice,
    /// and the client of its token reconnects.
    /// </param>
    public TargetChoice? Choose(long now, Func<int, HandoffLoad> handoffs, ConnectionAffinity affinity = default)
    {
        if (Affine(affinity) is { } affine)
        {
            var load = handoffs(affine.Id);
            if (!affine.Blocked && load.InFlight < maxInFlightPerWorker)
            {
                return new TargetChoice(affine.Id, null, Affine: true);
            }

            if (!LeftUnacknowledged(load, now))
            {
                return null;
            }
        }

        Candidate? chosen = null;
        Candidate? passedOver = null;
        var chosenLoad = 0L;
        for (var i = 0; i < _workers.Count; i++)
        {
            var worker = _workers[(_next + i) % _workers.Count];
            var inFlight = handoffs(worker.Id);
            if (worker.Retired || worker.Blocked || inFlight.InFlight >= maxInFlightPerWorker)
            {
                continue;
            }

            if (IsShedding(worker, now) && HasOtherTarget(worker, now, handoffs))
            {
                passedOver ??= worker;
                continue;
            }

            if (mode == DispatchMode.RoundRobin)
            {
                chosen = worker;
                break;
            }

            // Least busy: fewest requests in flight as last reported plus what was sent since; ties go round-robin.
            var load = Load(worker, inFlight, now);
            if (chosen is null || load < chosenLoad)
            {
                (chosen, chosenLoad) = (worker, load);
            }
        }

        return chosen is null ? null : new TargetChoice(chosen.Id, passedOver?.Id);
    }

    /// <summary>The connection chosen by <see cref="Choose"/> went out: the turn moves on and the counters count it.</summary>
    public void Sent(TargetChoice choice)
    {
        var index = Find(choice.WorkerId);
        if (index < 0 || choice.Affine)
        {
            return;
        }

        _workers[index].SentSinceReport++;
        _next = (index + 1) % _workers.Count;
        if (choice.PassedOver is { } passedOver)
        {
            Update(passedOver, worker => worker.ShedRemaining--);
        }
    }

    /// <summary>
    /// Another worker takes connections: a shedding worker is passed over only then. When the others are at their
    /// hand-over bound, the connection waits for their acknowledgements (milliseconds) rather than going back; but not
    /// for a worker that has left one unacknowledged for long (paused, hung): waiting for it would stall dispatch. Nor
    /// for one that sheds too: two shedding workers passing each other over would take nothing until a new connection
    /// or an acknowledgement came after their sheds lapsed, and a client waiting for its connections sends neither.
    /// </summary>
    private bool HasOtherTarget(Candidate shedding, long now, Func<int, HandoffLoad> handoffs) =>
        _workers.Exists(worker => worker != shedding && !worker.Retired && !worker.Blocked && !IsShedding(worker, now) && !LeftUnacknowledged(handoffs(worker.Id), now));

    private static bool IsShedding(Candidate worker, long now) => worker.ShedRemaining > 0 && worker.SheddingUntil > now;

    private static bool LeftUnacknowledged(HandoffLoad handoffs, long now) =>
        handoffs.InFlight > 0 && now - handoffs.OldestSentAt > UnacknowledgedIsStuckMilliseconds;

    /// <summary>
    /// Requests in flight as last reported, plus connections sent since. A worker that leaves a connection
    /// unacknowledged for long, or whose reports are late, counts as saturated: it is probably stuck.
    /// </summary>
    private long Load(Candidate worker, HandoffLoad handoffs, long now)
    {
        var stuck = now - worker.ReportedAt > stuckAfterMilliseconds || LeftUnacknowledged(handoffs, now);
        return worker.ReportedInFlight + worker.SentSinceReport + (stuck ? Saturated : 0L);
    }

    /// <summary>
    /// The worker a connection belongs to, if it is here and not retired: by id, or by its client's hash over the
    /// workers not retired, in id order (so every connection of one address lands on one worker while they stay).
    /// </summary>
    private Candidate? Affine(ConnectionAffinity affinity)
    {
        if (affinity.WorkerId is { } id)
        {
            return _workers.Find(worker => worker.Id == id && !worker.Retired);
        }

        if (affinity.ClientHash is not { } hash)
        {
            return null;
        }

        var serving = _workers.Where(worker => !worker.Retired).OrderBy(worker => worker.Id).ToList();
        return serving.Count == 0 ? null : serving[(int)(hash % (uint)serving.Count)];
    }

    private int Find(int workerId) => _workers.FindIndex(worker => worker.Id == workerId);

    private void Update(int workerId, Action<Candidate> change)
    {
        if (Find(workerId) is var index and >= 0)
        {
            change(_workers[index]);
        }
    }

    private sealed class Candidate(int id)
    {
        public int Id { get; } = id;

        public bool Retired { get; set; }

        public bool Blocked { get; set; }

        public int ReportedInFlight { get; set; }

        public int SentSinceReport { get; set; }

        public long ReportedAt { get; set; }

        /// <summary>Connections still to go to others after it was asked to shed, until <see cref="SheddingUntil"/>.</summary>
        public int ShedRemaining { get; set; }

        public long SheddingUntil { get; set; }
    }
}
