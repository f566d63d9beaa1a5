namespace Tprcs.Contracts;

[GenerateSerializer, Immutable, Alias("tprcs.PartyVotes")]
public sealed record PartyVotes(
    [property: Id(0)] string Party,
    [property: Id(1)] int Votes);

/// <summary>The figures of a polling-unit result sheet, as written on it (they can be wrong).</summary>
[GenerateSerializer, Immutable, Alias("tprcs.SheetFigures")]
public sealed record SheetFigures(
    [property: Id(0)] int? RegisteredVoters,
    [property: Id(1)] int AccreditedVoters,
    [property: Id(2)] int? BallotsIssued,
    [property: Id(3)] int? BallotsSpoilt,
    [property: Id(4)] int? BallotsUnused,
    [property: Id(5)] int Rejected,
    [property: Id(6)] PartyVotes[] Votes,
    [property: Id(7)] int TotalValid,
    [property: Id(8)] int TotalCast);

/// <summary>An agent's submission of one sheet copy (or an amendment of an earlier version).</summary>
[GenerateSerializer, Immutable, Alias("tprcs.SubmitSheet")]
public sealed record SubmitSheet(
    [property: Id(0)] string SubmissionId,
    [property: Id(1)] string ElectionId,
    [property: Id(2)] string PollingUnit,
    [property: Id(3)] string Agent,
    [property: Id(4)] SheetFigures Figures,
    [property: Id(5)] DateTimeOffset? CapturedAt,
    [property: Id(6)] string? PhotoSha256,
    [property: Id(7)] string? PhotoUrl,
    [property: Id(8)] string? Comment,
    [property: Id(9)] int? AmendsVersion,
    [property: Id(10)] string? AmendReason);

/// <summary>Where a unit's result stands. Only <see cref="Counted"/> puts votes into totals.</summary>
public enum UnitStatus
{
    /// <summary>No sheet yet.</summary>
    Missing = 0,
    /// <summary>Current copies agree and break no rule: the votes are counted.</summary>
    Counted = 1,
    /// <summary>Over-voting (rule 1): the unit's result is cancelled; its registered voters count as cancelled.</summary>
    Cancelled = 2,
    /// <summary>Accredited voters exceed registered voters (rule 2): held until reviewed.</summary>
    HeldForReview = 3,
    /// <summary>Arithmetic or ballot-accounting flag (rules 3 to 5): not counted.</summary>
    Flagged = 4,
    /// <summary>Current copies disagree (rule 8): not counted until they agree or an amendment settles it.</summary>
    Conflict = 5,
}

/// <summary>Flag codes, stable on the wire and in JSON.</summary>
public static class SheetFlags
{
    public const string OverVoting = "over-voting";
    public const string AccreditedOverRegistered = "accredited-over-registered";
    public const string CastArithmetic = "cast-arithmetic";
    public const string ValidArithmetic = "valid-arithmetic";
    public const string BallotAccounting = "ballot-accounting";
    public const string RegisteredMismatch = "registered-mismatch";
    public const string CopyConflict = "copy-conflict";
}

[GenerateSerializer, Immutable, Alias("tprcs.SubmissionReceipt")]
public sealed record SubmissionReceipt(
    [property: Id(0)] string SubmissionId,
    [property: Id(1)] string ElectionId,
    [property: Id(2)] string PollingUnit,
    [property: Id(3)] int Version,
    [property: Id(4)] bool Counted,
    [property: Id(5)] string[] Flags,
    [property: Id(6)] UnitStatus UnitStatus,
    [property: Id(7)] DateTimeOffset ReceivedAt,
    [property: Id(8)] int? Replaces);

[GenerateSerializer, Immutable, Alias("tprcs.FieldError")]
public sealed record FieldError(
    [property: Id(0)] string Field,
    [property: Id(1)] string Rule,
    [property: Id(2)] string Message);

public enum SubmitOutcomeKind
{
    /// <summary>Stored durably for the first time.</summary>
    Created = 0,
    /// <summary>Same submission id and same body as before: the original receipt.</summary>
    Replayed = 1,
    /// <summary>Same submission id, different body, or an amendment of a version already replaced.</summary>
    Conflict = 2,
    /// <summary>Malformed (rule 11): nothing stored.</summary>
    Invalid = 3,
    /// <summary>The polling unit is not in the election.</summary>
    UnknownUnit = 4,
}

[GenerateSerializer, Immutable, Alias("tprcs.SubmitOutcome")]
public sealed record SubmitOutcome(
    [property: Id(0)] SubmitOutcomeKind Kind,
    [property: Id(1)] SubmissionReceipt? Receipt,
    [property: Id(2)] FieldError[] Errors)
{
    public static SubmitOutcome Fail(SubmitOutcomeKind kind, params FieldError[] errors) => new(kind, null, errors);
}

/// <summary>One stored copy of a unit's sheet, with its place in the unit's version history.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.SheetCopy")]
public sealed record SheetCopy(
    [property: Id(0)] int Version,
    [property: Id(1)] string SubmissionId,
    [property: Id(2)] string Agent,
    [property: Id(3)] DateTimeOffset ReceivedAt,
    [property: Id(4)] DateTimeOffset? CapturedAt,
    [property: Id(5)] SheetFigures Figures,
    [property: Id(6)] string[] Flags,
    [property: Id(7)] int? Replaces,
    [property: Id(8)] string? Reason,
    [property: Id(9)] int? ReplacedBy,
    [property: Id(10)] string? Comment,
    [property: Id(11)] string? PhotoSha256,
    [property: Id(12)] string? PhotoUrl);

/// <summary>A polling unit's state: the counted result, its flags, and every copy ever submitted.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.PollingUnitView")]
public sealed record PollingUnitView(
    [property: Id(0)] string ElectionId,
    [property: Id(1)] AreaRef Unit,
    [property: Id(2)] int Version,
    [property: Id(3)] UnitStatus Status,
    [property: Id(4)] SheetFigures? Result,
    [property: Id(5)] string[] Flags,
    [property: Id(6)] string[] ConflictFields,
    [property: Id(7)] SheetCopy[] Copies,
    [property: Id(8)] DateTimeOffset? FirstReportedAt,
    [property: Id(9)] DateTimeOffset? LastUpdatedAt);
