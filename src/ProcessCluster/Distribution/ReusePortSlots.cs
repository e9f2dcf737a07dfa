namespace ProcessCluster.Distribution;

/// <summary>
/// ReusePort scheduling's bookkeeping (pure): which slot of the SO_REUSEPORT groups each worker accepts on, and which
/// slots the BPF program steers new connections to. A slot is one position in every endpoint's group; the primary
/// opens a slot's sockets once and never closes them while the cluster runs, so the group's indices (the order in
/// which its sockets were added) never shift, and a slot's queue outlives the worker that accepted on it.
/// </summary>
internal sealed class ReusePortSlots
{
    private enum Use
    {
        /// <summary>No process accepts on it: what is queued there waits for the next worker given it.</summary>
        Free,

        /// <summary>Given to a worker that is not serving yet.</summary>
        Starting,

        Serving,

        /// <summary>Its worker is leaving: it takes what is queued and stops, and new connections go elsewhere.</summary>
        Leaving,
    }

    private readonly List<Use> _slots = [];
    private readonly Dictionary<int, int> _slotOf = [];

    /// <summary>Slots opened so far; the group never shrinks.</summary>
    public int Count => _slots.Count;

    /// <summary>
    /// Gives a worker its slot: a free one with connections queued first (a dead worker's, whose clients then wait only
    /// for this worker), else the lowest free one, else a new one at the end, whose sockets the caller opens.
    /// </summary>
    public int Assign(int workerId, Func<int, bool> hasQueued)
    {
        if (_slotOf.TryGetValue(workerId, out var held))
        {
            return held;
        }

        var free = Enumerable.Range(0, _slots.Count).Where(slot => _slots[slot] == Use.Free).ToList();
        var slot = free.Where(hasQueued).Concat(free).DefaultIfEmpty(_slots.Count).First();
        if (slot == _slots.Count)
        {
            _slots.Add(Use.Free);
        }

        _slots[slot] = Use.Starting;
        _slotOf[workerId] = slot;
        return slot;
    }

    /// <summary>The worker is ready: its slot gets new connections.</summary>
    public void Serve(int workerId) => Set(workerId, Use.Serving);

    /// <summary>The worker leaves: its slot gets no new connection; it keeps the slot until it exits.</summary>
    public void Retire(int workerId) => Set(workerId, Use.Leaving);

    /// <summary>The worker has exited: its slot is free for the next worker, with whatever is still queued on it.</summary>
    public void Release(int workerId)
    {
        if (_slotOf.Remove(workerId, out var slot))
        {
            _slots[slot] = Use.Free;
        }
    }

    /// <summary>Slots no worker holds now.</summary>
    public IEnumerable<int> Free() => Enumerable.Range(0, _slots.Count).Where(slot => _slots[slot] == Use.Free);

    /// <summary>
    /// The slots new connections go to: the serving ones. While none serves, one slot where they wait for the next
    /// worker: a starting worker's (it will accept them), else the lowest free one (the next worker is given it).
    /// Null when no slot is open yet.
    /// </summary>
    public IReadOnlyList<int>? Steering()
    {
        var serving = Enumerable.Range(0, _slots.Count).Where(slot => _slots[slot] == Use.Serving).ToList();
        if (serving.Count > 0)
        {
            return serving;
        }

        var waiting = Enumerable.Range(0, _slots.Count).Where(slot => _slots[slot] == Use.Starting)
            .Concat(Enumerable.Range(0, _slots.Count).Where(slot => _slots[slot] == Use.Free))
            .Take(1)
            .ToList();
        return waiting.Count > 0 ? waiting : null;
    }

    private void Set(int workerId, Use use)
    {
        if (_slotOf.TryGetValue(workerId, out var slot))
        {
            _slots[slot] = use;
        }
    }
}
