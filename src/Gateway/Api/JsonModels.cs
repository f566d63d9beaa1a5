using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tprcs.Gateway.Api;

// The JSON that agents and browsers see. Separate from the Orleans wire types on purpose: the wire
// can evolve by [Id] without breaking clients, and the JSON can stay small and stable.

/// <summary>An agent's sheet as posted. Numbers are nullable so that a missing field is named, not read as 0.</summary>
public sealed class SubmissionRequest
{
    public string? SubmissionId { get; set; }
    public string? PollingUnit { get; set; }
    public int? RegisteredVoters { get; set; }
    public int? AccreditedVoters { get; set; }
    public BallotsJson? Ballots { get; set; }
    public int? Rejected { get; set; }
    public Dictionary<string, int>? Votes { get; set; }
    public int? TotalValid { get; set; }
    public int? TotalCast { get; set; }
    public DateTimeOffset? CapturedAt { get; set; }
    public PhotoJson? Photo { get; set; }
    public string? Comment { get; set; }
    public AmendsJson? Amends { get; set; }
}

public sealed class BallotsJson
{
    public int? Issued { get; set; }
    public int? Spoilt { get; set; }
    public int? Unused { get; set; }
}

public sealed class PhotoJson
{
    public string? Sha256 { get; set; }
    public string? Url { get; set; }
}

public sealed class AmendsJson
{
    public int? Version { get; set; }
    public string? Reason { get; set; }
}

public sealed record ReceiptJson(
    string SubmissionId,
    string ElectionId,
    string PollingUnit,
    int Version,
    bool Counted,
    string UnitStatus,
    string[] Flags,
    DateTimeOffset ReceivedAt,
    int? Replaces);

public sealed record FieldErrorJson(string Field, string Rule, string Message);

public sealed record PartyJson(string Code, string Name);

public sealed record LevelCountJson(string Level, int Areas);

public sealed record ElectionJson(
    string Id,
    string Name,
    string Contest,
    string[] Levels,
    PartyJson[] Parties,
    LevelCountJson[] Counts,
    string RootArea,
    int PollingUnits,
    long RegisteredVoters);

public sealed record AreaRefJson(string Code, string Name, string Level, string? Parent, long RegisteredVoters);

public sealed record UnitCountsJson(int Total, int Reported, int Counted, int Cancelled);

public sealed record FlagCountsJson(
    int OverVoting,
    int AccreditedOverRegistered,
    int CastArithmetic,
    int ValidArithmetic,
    int BallotAccounting,
    int RegisteredMismatch,
    int CopyConflict);

/// <summary>Additive figures; <c>votes</c> follows the order of the election's parties.</summary>
public sealed record TallyJson(
    long[] Votes,
    long RegisteredVoters,
    long AccreditedVoters,
    long Rejected,
    long TotalValid,
    long TotalCast,
    UnitCountsJson Units,
    long RegisteredCovered,
    long RegisteredCancelled,
    FlagCountsJson Flags);

public sealed record RowJson(string Code, string Name, long Version, string? Status, TallyJson Tally);

public sealed record AreaDocJson(
    string ElectionId,
    AreaRefJson Area,
    string ChildLevel,
    string[] Parties,
    string Epoch,
    long Seq,
    long Version,
    TallyJson Totals,
    RowJson[] Rows,
    DateTimeOffset UpdatedAt,
    bool AtRisk);

public sealed record SheetJson(
    int? RegisteredVoters,
    int AccreditedVoters,
    BallotsJson? Ballots,
    int Rejected,
    Dictionary<string, int> Votes,
    int TotalValid,
    int TotalCast);

public sealed record CopyJson(
    int Version,
    string SubmissionId,
    string Agent,
    DateTimeOffset ReceivedAt,
    DateTimeOffset? CapturedAt,
    SheetJson Sheet,
    string[] Flags,
    int? Replaces,
    string? Reason,
    int? ReplacedBy,
    string? Comment,
    PhotoJson? Photo);

public sealed record PollingUnitJson(
    string ElectionId,
    AreaRefJson Unit,
    int Version,
    string Status,
    SheetJson? Result,
    string[] Flags,
    string[] ConflictFields,
    CopyJson[] Copies,
    DateTimeOffset? FirstReportedAt,
    DateTimeOffset? LastUpdatedAt);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SubmissionRequest))]
[JsonSerializable(typeof(ReceiptJson))]
[JsonSerializable(typeof(FieldErrorJson[]))]
[JsonSerializable(typeof(ElectionJson))]
[JsonSerializable(typeof(ElectionJson[]))]
[JsonSerializable(typeof(AreaDocJson))]
[JsonSerializable(typeof(PollingUnitJson))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Http.HttpValidationProblemDetails))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
