using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;

namespace Tprcs.Grains.Elections;

/// <summary>
/// The elections a silo serves, side by side. Filled at startup, then read by every grain:
/// additions publish a fresh snapshot, so readers never lock.
/// </summary>
public sealed class ElectionCatalog
{
    private readonly Lock _writeGate = new();
    private volatile Snapshot _snapshot = new(new Dictionary<string, Election>(StringComparer.Ordinal), ReadOnlyCollection<Election>.Empty);

    private sealed record Snapshot(Dictionary<string, Election> ById, ReadOnlyCollection<Election> All);

    /// <summary>Elections in the order they were added.</summary>
    public IReadOnlyList<Election> All => _snapshot.All;

    /// <exception cref="InvalidOperationException">An election with the same id is already loaded.</exception>
    public void Add(Election election)
    {
        ArgumentNullException.ThrowIfNull(election);
        lock (_writeGate)
        {
            var current = _snapshot;
            if (current.ById.ContainsKey(election.Id))
            {
                throw new InvalidOperationException($"Election '{election.Id}' is already loaded.");
            }

            var byId = new Dictionary<string, Election>(current.ById, StringComparer.Ordinal) { [election.Id] = election };
            _snapshot = new Snapshot(byId, Array.AsReadOnly([.. current.All, election]));
        }
    }

    public bool TryGet(string id, [MaybeNullWhen(false)] out Election election) =>
        _snapshot.ById.TryGetValue(id, out election);
}
