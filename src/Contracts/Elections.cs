namespace Tprcs.Contracts;

[GenerateSerializer, Immutable, Alias("tprcs.PartyInfo")]
public sealed record PartyInfo(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name);

[GenerateSerializer, Immutable, Alias("tprcs.LevelCount")]
public sealed record LevelCount(
    [property: Id(0)] string Level,
    [property: Id(1)] int Areas);

/// <summary>What the cluster knows about one loaded election: enough for a gateway to serve it.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.ElectionSummary")]
public sealed record ElectionSummary(
    [property: Id(0)] string Id,
    [property: Id(1)] string Name,
    [property: Id(2)] string Contest,
    [property: Id(3)] string[] Levels,
    [property: Id(4)] PartyInfo[] Parties,
    [property: Id(5)] LevelCount[] Counts,
    [property: Id(6)] string RootArea,
    [property: Id(7)] int PollingUnits,
    [property: Id(8)] long RegisteredVoters);

/// <summary>One area or polling unit as the election's definition names it.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.AreaRef")]
public sealed record AreaRef(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] string Level,
    [property: Id(3)] string? Parent,
    [property: Id(4)] bool IsPollingUnit,
    [property: Id(5)] long RegisteredVoters);
