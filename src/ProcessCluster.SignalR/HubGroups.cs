using Microsoft.AspNetCore.SignalR;

namespace ProcessCluster.SignalR;

/// <summary>Named sets of this worker's connections (a hub's groups, or its users' connections), safe across threads.</summary>
internal sealed class HubGroups
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HubConnectionStore> _groups = [];

    public void Add(string name, HubConnectionContext connection)
    {
        lock (_lock)
        {
            if (!_groups.TryGetValue(name, out var group))
            {
                _groups[name] = group = new HubConnectionStore();
            }

            group.Add(connection);
        }
    }

    public void Remove(string name, HubConnectionContext connection)
    {
        lock (_lock)
        {
            if (_groups.TryGetValue(name, out var group))
            {
                group.Remove(connection);
                if (group.Count == 0)
                {
                    _groups.Remove(name);
                }
            }
        }
    }

    /// <summary>A connection that closed leaves every group.</summary>
    public void RemoveEverywhere(HubConnectionContext connection)
    {
        lock (_lock)
        {
            foreach (var name in _groups.Where(group => group.Value[connection.ConnectionId] is not null).Select(group => group.Key).ToList())
            {
                Remove(name, connection);
            }
        }
    }

    /// <summary>The connections in a store now (it has an enumerator, but is not enumerable).</summary>
    public static List<HubConnectionContext> Snapshot(HubConnectionStore store)
    {
        var connections = new List<HubConnectionContext>(store.Count);
        foreach (var connection in store)
        {
            connections.Add(connection);
        }

        return connections;
    }

    /// <summary>The connections in any of the named sets, each once (a snapshot).</summary>
    public IReadOnlyList<HubConnectionContext> Members(IEnumerable<string> names)
    {
        lock (_lock)
        {
            return names.Distinct()
                .SelectMany(name => _groups.TryGetValue(name, out var group) ? Snapshot(group) : [])
                .DistinctBy(connection => connection.ConnectionId)
                .ToList();
        }
    }
}
