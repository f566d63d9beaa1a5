using Tprcs.Contracts;

namespace Tprcs.Grains;

/// <summary>
/// Soft state only: if this grain is lost, the next round of announcements (every few seconds)
/// rebuilds it. Entries expire so that a node that died without leaving stops counting.
/// </summary>
public sealed class GatewayRegistryGrain(TimeProvider time) : Grain, IGatewayRegistryGrain
{
    /// <summary>A node not heard from for this long is considered gone.</summary>
    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(15);

    private readonly Dictionary<string, (GatewayNode Node, DateTimeOffset Seen)> _nodes = new(StringComparer.Ordinal);

    public Task<GatewayNode[]> Announce(GatewayNode node)
    {
        var now = time.GetUtcNow();
        _nodes[node.NodeId] = (node, now);
        foreach (var (id, entry) in _nodes.ToList())
        {
            if (now - entry.Seen > Expiry)
            {
                _nodes.Remove(id);
            }
        }

        return Task.FromResult(_nodes.Values.Select(e => e.Node).OrderBy(n => n.Url, StringComparer.Ordinal).ToArray());
    }

    public Task Leave(string nodeId)
    {
        _nodes.Remove(nodeId);
        return Task.CompletedTask;
    }
}
