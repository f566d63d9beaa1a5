using Tprcs.Contracts;

namespace Tprcs.Gateway.Api;

/// <summary>Orleans wire types to the JSON clients see, and the request JSON to the wire command.</summary>
public static class JsonMapping
{
    public static string StatusName(UnitStatus status) => status switch
    {
        UnitStatus.Missing => "missing",
        UnitStatus.Counted => "counted",
        UnitStatus.Cancelled => "cancelled",
        UnitStatus.HeldForReview => "held-for-review",
        UnitStatus.Flagged => "flagged",
        UnitStatus.Conflict => "conflict",
        _ => status.ToString().ToLowerInvariant(),
    };

    public static ReceiptJson ToJson(this SubmissionReceipt r) =>
        new(r.SubmissionId, r.ElectionId, r.PollingUnit, r.Version, r.Counted, StatusName(r.UnitStatus), r.Flags, r.ReceivedAt, r.Replaces);

    public static ElectionJson ToJson(this ElectionSummary e) =>
        new(e.Id, e.Name, e.Contest, e.Levels, e.Parties.Select(p => new PartyJson(p.Code, p.Name)).ToArray(),
            e.Counts.Select(c => new LevelCountJson(c.Level, c.Areas)).ToArray(), e.RootArea, e.PollingUnits, e.RegisteredVoters);

    public static AreaRefJson ToJson(this AreaRef a) => new(a.Code, a.Name, a.Level, a.Parent, a.RegisteredVoters);

    public static TallyJson ToJson(this Tally t) => new(
        t.Votes, t.RegisteredVoters, t.AccreditedVoters, t.Rejected, t.TotalValid, t.TotalCast,
        new UnitCountsJson(t.UnitsTotal, t.UnitsReported, t.UnitsCounted, t.UnitsCancelled),
        t.RegisteredCovered, t.RegisteredCancelled,
        new FlagCountsJson(t.Flags.OverVoting, t.Flags.AccreditedOverRegistered, t.Flags.CastArithmetic,
            t.Flags.ValidArithmetic, t.Flags.BallotAccounting, t.Flags.RegisteredMismatch, t.Flags.CopyConflict));

    public static RowJson ToJson(this FeedRow r) =>
        new(r.Code, r.Name, r.Version, r.UnitStatus is { } s ? StatusName(s) : null, r.Tally.ToJson());

    public static AreaDocJson ToJson(this FeedSnapshot s, string[] parties) => new(
        s.ElectionId, s.Area.ToJson(), s.ChildLevel, parties, s.Epoch, s.Seq, s.Version, s.Totals.ToJson(),
        s.Rows.Select(r => r.ToJson()).ToArray(), s.UpdatedAt, s.Totals.AtRisk());

    public static SheetJson ToJson(this SheetFigures f) => new(
        f.RegisteredVoters, f.AccreditedVoters,
        f.BallotsIssued is null && f.BallotsSpoilt is null && f.BallotsUnused is null
            ? null
            : new BallotsJson { Issued = f.BallotsIssued, Spoilt = f.BallotsSpoilt, Unused = f.BallotsUnused },
        f.Rejected, f.Votes.ToDictionary(v => v.Party, v => v.Votes), f.TotalValid, f.TotalCast);

    public static PollingUnitJson ToJson(this PollingUnitView v) => new(
        v.ElectionId, v.Unit.ToJson(), v.Version, StatusName(v.Status), v.Result?.ToJson(), v.Flags, v.ConflictFields,
        v.Copies.Select(c => new CopyJson(c.Version, c.SubmissionId, c.Agent, c.ReceivedAt, c.CapturedAt, c.Figures.ToJson(),
            c.Flags, c.Replaces, c.Reason, c.ReplacedBy, c.Comment,
            c.PhotoSha256 is null && c.PhotoUrl is null ? null : new PhotoJson { Sha256 = c.PhotoSha256, Url = c.PhotoUrl })).ToArray(),
        v.FirstReportedAt, v.LastUpdatedAt);

    /// <summary>
    /// The request to the wire command, or the missing required fields. Everything else about the
    /// sheet (ranges, parties, amendments) is checked by the grain, which knows the election.
    /// </summary>
    public static (SubmitSheet? Command, List<FieldErrorJson> Errors) ToCommand(this SubmissionRequest r, string electionId, string agent)
    {
        var errors = new List<FieldErrorJson>();
        void Require(object? value, string field)
        {
            if (value is null)
            {
                errors.Add(new FieldErrorJson(field, "required", $"{field} is required."));
            }
        }

        Require(r.SubmissionId, "submissionId");
        Require(r.PollingUnit, "pollingUnit");
        Require(r.AccreditedVoters, "accreditedVoters");
        Require(r.Rejected, "rejected");
        Require(r.Votes, "votes");
        Require(r.TotalValid, "totalValid");
        Require(r.TotalCast, "totalCast");
        if (r.Amends is not null)
        {
            Require(r.Amends.Version, "amends.version");
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var figures = new SheetFigures(r.RegisteredVoters, r.AccreditedVoters!.Value, r.Ballots?.Issued, r.Ballots?.Spoilt,
            r.Ballots?.Unused, r.Rejected!.Value, r.Votes!.Select(kv => new PartyVotes(kv.Key, kv.Value)).ToArray(),
            r.TotalValid!.Value, r.TotalCast!.Value);
        return (new SubmitSheet(r.SubmissionId!, electionId, r.PollingUnit!, agent, figures, r.CapturedAt,
            r.Photo?.Sha256, r.Photo?.Url, r.Comment, r.Amends?.Version, r.Amends?.Reason), errors);
    }
}
