using System.Collections.Concurrent;
using Tprcs.Contracts;

namespace Tprcs.Gateway.Api;

/// <summary>
/// The gateway's cache of what the cluster has loaded. Elections do not change while the cluster
/// runs, so a summary once fetched is kept; misses always ask the cluster again.
/// </summary>
public sealed class ElectionDirectory(IClusterClient cluster)
{
    private readonly ConcurrentDictionary<string, ElectionSummary> _elections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AreaRef> _areas = new(StringComparer.Ordinal);

    private IElectionDirectoryGrain Grain => cluster.GetGrain<IElectionDirectoryGrain>(0);

    public async Task<ElectionSummary[]> ListAsync()
    {
        var all = await Grain.ListElections();
        foreach (var e in all)
        {
            _elections[e.Id] = e;
        }

        return all;
    }

    public async Task<ElectionSummary?> GetAsync(string electionId)
    {
        if (_elections.TryGetValue(electionId, out var cached))
        {
            return cached;
        }

        var summary = await Grain.GetElection(electionId);
        if (summary is not null)
        {
            _elections[electionId] = summary;
        }

        return summary;
    }

    public async Task<AreaRef?> GetAreaAsync(string electionId, string code)
    {
        var key = Keys.Compose(electionId, code);
        if (_areas.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var area = await Grain.GetArea(electionId, code);
        // Only areas above units are cached: a bounded set (about 10,000 for a whole country).
        if (area is { IsPollingUnit: false })
        {
            _areas[key] = area;
        }

        return area;
    }
}
