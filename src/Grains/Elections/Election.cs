using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using Tprcs.Contracts;

namespace Tprcs.Grains.Elections;

/// <summary>
/// A loaded, validated election, indexed for lookups by area code. Immutable, so one instance is
/// shared by every grain of a silo. Built only by <see cref="ElectionLoader"/>.
/// </summary>
public sealed class Election
{
    private static readonly ReadOnlyCollection<AreaRef> NoChildren = ReadOnlyCollection<AreaRef>.Empty;

    private readonly Dictionary<string, Node> _areas;
    private readonly Dictionary<string, int> _partyIndex;
    private readonly string[] _levels;

    /// <summary>Children are wrapped read-only because the lists are shared by every caller in the silo.</summary>
    private readonly record struct Node(AreaRef Area, ReadOnlyCollection<AreaRef> Children, int Level);

    /// <param name="levelOf">Index into the definition's levels of each area, in definition order.</param>
    /// <param name="parentOf">Index of each area's parent in definition order, -1 for the root.</param>
    internal Election(ElectionDefinition def, int[] levelOf, int[] parentOf, int root)
    {
        Id = def.Id;
        Name = def.Name;
        Contest = def.Contest;
        _levels = [.. def.Levels];
        Levels = Array.AsReadOnly(_levels);
        var parties = def.Parties.Select(p => new PartyInfo(p.Code, p.Name)).ToArray();
        Parties = Array.AsReadOnly(parties);
        _partyIndex = new Dictionary<string, int>(parties.Length, StringComparer.Ordinal);
        for (var i = 0; i < parties.Length; i++)
        {
            _partyIndex.Add(parties[i].Code, i);
        }

        var areas = def.Areas;
        var n = areas.Count;
        var unitLevel = _levels.Length - 1;

        var voters = new long[n];
        var perLevel = new int[_levels.Length];
        for (var i = 0; i < n; i++)
        {
            perLevel[levelOf[i]]++;
            if (levelOf[i] == unitLevel)
            {
                voters[i] = areas[i].RegisteredVoters!.Value;
            }
        }

        // Every parent sits exactly one level above its children, so summing level by level from
        // the bottom completes an area's total before it is added to its parent.
        for (var level = unitLevel; level > 0; level--)
        {
            for (var i = 0; i < n; i++)
            {
                if (levelOf[i] == level)
                {
                    voters[parentOf[i]] += voters[i];
                }
            }
        }

        var childCount = new int[n];
        for (var i = 0; i < n; i++)
        {
            if (parentOf[i] >= 0)
            {
                childCount[parentOf[i]]++;
            }
        }

        // Level names and parent codes point at one shared string each instead of one copy per area,
        // which matters at 186,000 areas.
        var refs = new AreaRef[n];
        for (var i = 0; i < n; i++)
        {
            var a = areas[i];
            var parent = parentOf[i] < 0 ? null : areas[parentOf[i]].Code;
            refs[i] = new AreaRef(a.Code, a.Name, _levels[levelOf[i]], parent, levelOf[i] == unitLevel, voters[i]);
        }

        var children = new AreaRef[n][];
        var filled = new int[n];
        for (var i = 0; i < n; i++)
        {
            var p = parentOf[i];
            if (p >= 0)
            {
                children[p] ??= new AreaRef[childCount[p]];
                children[p][filled[p]++] = refs[i];
            }
        }

        _areas = new Dictionary<string, Node>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            var kids = children[i] is { } array ? new ReadOnlyCollection<AreaRef>(array) : NoChildren;
            _areas.Add(refs[i].Code, new Node(refs[i], kids, levelOf[i]));
        }

        Root = refs[root];
        PollingUnitCount = perLevel[unitLevel];
        RegisteredVoters = Root.RegisteredVoters;
        Summary = new ElectionSummary(
            Id,
            Name,
            Contest,
            [.. _levels],
            [.. parties],
            [.. _levels.Select((level, i) => new LevelCount(level, perLevel[i]))],
            Root.Code,
            PollingUnitCount,
            RegisteredVoters);
    }

    public string Id { get; }

    public string Name { get; }

    public string Contest { get; }

    /// <summary>Level names from the top down; the last one is the polling-unit level.</summary>
    public IReadOnlyList<string> Levels { get; }

    /// <summary>Parties in definition order; a party's position here is its <see cref="PartyIndex"/>.</summary>
    public IReadOnlyList<PartyInfo> Parties { get; }

    public AreaRef Root { get; }

    public ElectionSummary Summary { get; }

    public int PollingUnitCount { get; }

    public long RegisteredVoters { get; }

    /// <summary>Position of the party in <see cref="Parties"/>, or -1. Codes compare ordinally: "apc" is not "APC".</summary>
    public int PartyIndex(string partyCode) => _partyIndex.GetValueOrDefault(partyCode, -1);

    /// <summary>Finds an area or a polling unit by its code.</summary>
    public bool TryGetArea(string code, [MaybeNullWhen(false)] out AreaRef area)
    {
        if (_areas.TryGetValue(code, out var node))
        {
            area = node.Area;
            return true;
        }

        area = null;
        return false;
    }

    /// <summary>The area's children in definition order; empty for a polling unit.</summary>
    /// <exception cref="KeyNotFoundException">The election has no such area.</exception>
    public IReadOnlyList<AreaRef> ChildrenOf(string code) => NodeOf(code).Children;

    /// <summary>Level name of the area's children; null for a polling unit.</summary>
    /// <exception cref="KeyNotFoundException">The election has no such area.</exception>
    public string? ChildLevelOf(string code)
    {
        var level = NodeOf(code).Level;
        return level + 1 < _levels.Length ? _levels[level + 1] : null;
    }

    // An unknown code is a caller's bug (a grain key that was never checked), not an empty area:
    // answering "no children" would make it look like a polling unit.
    private Node NodeOf(string code) =>
        _areas.TryGetValue(code, out var node)
            ? node
            : throw new KeyNotFoundException($"Election '{Id}' has no area '{code}'.");
}
