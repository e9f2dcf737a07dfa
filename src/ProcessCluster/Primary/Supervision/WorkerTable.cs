namespace ProcessCluster.Primary;

/// <summary>
/// The live workers by id (gunicorn's WORKERS dict), and the one place their state moves. Written by the supervisor
/// loop only; everyone else reads the <see cref="ClusterSnapshot"/> it publishes.
/// </summary>
internal sealed class WorkerTable
{
    private readonly SortedDictionary<int, WorkerHandle> _workers = [];

    /// <summary>Every live worker, by id.</summary>
    public IReadOnlyCollection<WorkerHandle> All => _workers.Values;

    public int Count => _workers.Count;

    public void Add(WorkerHandle worker) => _workers.Add(worker.Id, worker);

    public void Remove(WorkerHandle worker) => _workers.Remove(worker.Id);

    public WorkerHandle? Find(int id) => _workers.GetValueOrDefault(id);

    public IEnumerable<WorkerHandle> In(WorkerState state) => _workers.Values.Where(worker => worker.State == state);

    public int CountIn(WorkerState state) => In(state).Count();

    /// <summary>The worker with this pid that has not connected yet: the only one a new channel from that pid may claim.</summary>
    public WorkerHandle? FindStarting(int pid) =>
        _workers.Values.FirstOrDefault(worker => worker.ProcessId == pid && worker.State == WorkerState.Starting && !worker.IsConnected);

    /// <summary>Moves a worker through its state machine; false (and nothing changes) when the move is not allowed.</summary>
    public static bool Move(WorkerHandle worker, WorkerTrigger trigger)
    {
        if (WorkerStateMachine.Next(worker.State, trigger) is not { } next)
        {
            return false;
        }

        worker.View = worker.View with { State = next };
        return true;
    }

    /// <summary>Applies a change to a worker's view (a new immutable view replaces the old).</summary>
    public static void Update(WorkerHandle worker, Func<WorkerView, WorkerView> change) => worker.View = change(worker.View);
}
