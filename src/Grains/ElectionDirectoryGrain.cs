using Orleans.Concurrency;
using Tprcs.Contracts;
using Tprcs.Grains.Elections;

namespace Tprcs.Grains;

/// <summary>Serves the elections every silo has loaded; a stateless worker, so it runs locally on each silo.</summary>
[StatelessWorker]
public sealed class ElectionDirectoryGrain(ElectionCatalog catalog) : Grain, IElectionDirectoryGrain
{
    public Task<ElectionSummary[]> ListElections() =>
        Task.FromResult(catalog.All.Select(e => e.Summary).ToArray());

    public Task<ElectionSummary?> GetElection(string electionId) =>
        Task.FromResult(catalog.TryGet(electionId, out var e) ? e.Summary : null);

    public Task<AreaRef?> GetArea(string electionId, string code) =>
        Task.FromResult(catalog.TryGet(electionId, out var e) && e.TryGetArea(code, out var a) ? a : null);
}
