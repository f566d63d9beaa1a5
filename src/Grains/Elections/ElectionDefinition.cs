using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tprcs.Grains.Elections;

/// <summary>
/// An election as written in its JSON definition file. Raw input: nothing here is checked until
/// <see cref="ElectionLoader.Load"/> turns it into an <see cref="Election"/>.
/// </summary>
public sealed class ElectionDefinition
{
    public string Id { get; set; } = "";

    public string Name { get; set; } = "";

    /// <summary>The kind of race: presidential, governorship, senate...</summary>
    public string Contest { get; set; } = "";

    /// <summary>Level names from the top of the hierarchy down; the last one is the polling-unit level.</summary>
    public List<string> Levels { get; set; } = [];

    public List<PartyDefinition> Parties { get; set; } = [];

    /// <summary>Every area and polling unit. Children keep the order in which they are listed here.</summary>
    public List<AreaDefinition> Areas { get; set; } = [];
}

public sealed class PartyDefinition
{
    public string Code { get; set; } = "";

    public string Name { get; set; } = "";
}

public sealed class AreaDefinition
{
    public string Code { get; set; } = "";

    public string Name { get; set; } = "";

    public string Level { get; set; } = "";

    /// <summary>Code of the area one level up; null only for the root.</summary>
    public string? Parent { get; set; }

    /// <summary>Given on polling units only. A long so that an absurd figure is refused by validation with a clear message rather than by the JSON reader.</summary>
    public long? RegisteredVoters { get; set; }
}

internal static class ElectionJson
{
    /// <summary>
    /// Strict on purpose: a misspelt field ("registeredVoter") or a null where a value is required
    /// is refused with the JSON path instead of being silently read as missing.
    /// Nulls are left out when writing, so areas carry no "registeredVoters": null and the root no "parent": null.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        WriteIndented = false,
    };
}
