using System.Runtime.CompilerServices;
using Tprcs.Grains.Elections;

namespace Tprcs.Grains.Domain;

/// <summary>Derived facts about an election's hierarchy, computed once per election and process.</summary>
public static class ElectionShape
{
    private static readonly ConditionalWeakTable<Election, Dictionary<string, int>> UnitCounts = new();

    /// <summary>How many polling units lie beneath <paramref name="code"/> (1 for a unit itself).</summary>
    public static int UnitsUnder(this Election election, string code) =>
        UnitCounts.GetValue(election, Count).TryGetValue(code, out var n) ? n : 0;

    /// <summary>Every polling unit beneath <paramref name="code"/> (the unit itself for a unit), depth first.</summary>
    public static IEnumerable<Contracts.AreaRef> PollingUnitsBelow(this Election election, string code)
    {
        var stack = new Stack<string>([code]);
        while (stack.TryPop(out var current))
        {
            var children = election.ChildrenOf(current);
            if (children.Count == 0 && election.TryGetArea(current, out var unit))
            {
                yield return unit;
                continue;
            }

            for (var i = children.Count - 1; i >= 0; i--)
            {
                stack.Push(children[i].Code);
            }
        }
    }

    private static Dictionary<string, int> Count(Election election)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        // Iterative post-order walk: the hierarchy can be deep and wide; no recursion limits.
        var stack = new Stack<(string Code, bool Expanded)>();
        stack.Push((election.Root.Code, false));
        while (stack.Count > 0)
        {
            var (code, expanded) = stack.Pop();
            var children = election.ChildrenOf(code);
            if (children.Count == 0)
            {
                counts[code] = 1;
                continue;
            }

            if (!expanded)
            {
                stack.Push((code, true));
                foreach (var child in children)
                {
                    stack.Push((child.Code, false));
                }

                continue;
            }

            var sum = 0;
            foreach (var child in children)
            {
                sum += counts[child.Code];
            }

            counts[code] = sum;
        }

        return counts;
    }
}
