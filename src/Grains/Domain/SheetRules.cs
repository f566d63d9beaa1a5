using System.Text.RegularExpressions;
using Tprcs.Contracts;
using Tprcs.Grains.Elections;

namespace Tprcs.Grains.Domain;

/// <summary>
/// The rules of DOMAIN.md. Rule 11 (malformed input) refuses a submission; rules 1 to 5 flag a
/// sheet that really says something wrong: it is stored as evidence and its votes are not counted.
/// </summary>
public static partial class SheetRules
{
    /// <summary>Largest figure accepted on a sheet. A polling unit has at most a few thousand voters.</summary>
    public const int MaxFigure = 100_000;
    public const int MaxSubmissionIdLength = 128;
    public const int MaxAgentLength = 128;
    public const int MaxCommentLength = 2_000;
    public const int MaxReasonLength = 500;
    public const int MaxUrlLength = 2_048;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
    private static partial Regex SubmissionIdPattern();

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Pattern();

    /// <summary>Rule 11: every problem of a malformed submission, each naming its field. Empty when well-formed.</summary>
    public static List<FieldError> Validate(SubmitSheet s, Election election)
    {
        var errors = new List<FieldError>();
        void Add(string field, string rule, string message) => errors.Add(new FieldError(field, rule, message));

        if (string.IsNullOrEmpty(s.SubmissionId))
        {
            Add("submissionId", "required", "submissionId is required.");
        }
        else if (s.SubmissionId.Length > MaxSubmissionIdLength || !SubmissionIdPattern().IsMatch(s.SubmissionId))
        {
            Add("submissionId", "format", $"submissionId must be 1 to {MaxSubmissionIdLength} characters of letters, digits, '.', '_', ':' or '-'.");
        }

        if (string.IsNullOrWhiteSpace(s.Agent) || s.Agent.Length > MaxAgentLength)
        {
            Add("agent", "required", "The submitting agent is unknown.");
        }

        if (string.IsNullOrEmpty(s.PollingUnit))
        {
            Add("pollingUnit", "required", "pollingUnit is required.");
        }

        var f = s.Figures;
        if (f is null)
        {
            Add("figures", "required", "The sheet's figures are required.");
            return errors;
        }

        CheckFigure(errors, "registeredVoters", f.RegisteredVoters);
        CheckFigure(errors, "accreditedVoters", f.AccreditedVoters);
        CheckFigure(errors, "rejected", f.Rejected);
        CheckFigure(errors, "totalValid", f.TotalValid);
        CheckFigure(errors, "totalCast", f.TotalCast);
        CheckFigure(errors, "ballots.issued", f.BallotsIssued);
        CheckFigure(errors, "ballots.spoilt", f.BallotsSpoilt);
        CheckFigure(errors, "ballots.unused", f.BallotsUnused);

        var given = (f.BallotsIssued.HasValue ? 1 : 0) + (f.BallotsSpoilt.HasValue ? 1 : 0) + (f.BallotsUnused.HasValue ? 1 : 0);
        if (given is 1 or 2)
        {
            Add("ballots", "complete", "Ballot accounting needs issued, spoilt and unused together, or none of them.");
        }

        if (f.Votes is null || f.Votes.Length == 0)
        {
            Add("votes", "required", "votes must list at least one party's figure.");
        }
        else
        {
            if (f.Votes.Length > election.Parties.Count)
            {
                Add("votes", "size", $"votes lists {f.Votes.Length} entries; the election has {election.Parties.Count} parties.");
            }

            // Per submission: no string or set is built for a valid entry.
            Span<bool> seen = stackalloc bool[election.Parties.Count];
            foreach (var v in f.Votes)
            {
                if (v is null || string.IsNullOrEmpty(v.Party))
                {
                    Add("votes", "required", "Every votes entry needs a party code.");
                    continue;
                }

                var index = election.PartyIndex(v.Party);
                if (index < 0)
                {
                    Add($"votes.{v.Party}", "unknown-party", $"Party '{v.Party}' is not in election '{election.Id}'.");
                }
                else if (seen[index])
                {
                    Add($"votes.{v.Party}", "duplicate", $"Party '{v.Party}' appears twice.");
                }
                else
                {
                    seen[index] = true;
                }

                if (v.Votes is < 0 or > MaxFigure)
                {
                    CheckFigure(errors, $"votes.{v.Party}", v.Votes);
                }
            }
        }

        if (s.Comment is { Length: > MaxCommentLength })
        {
            Add("comment", "size", $"comment is longer than {MaxCommentLength} characters.");
        }

        if (s.PhotoSha256 is not null && !Sha256Pattern().IsMatch(s.PhotoSha256))
        {
            Add("photo.sha256", "format", "photo.sha256 must be 64 hexadecimal characters.");
        }

        if (s.PhotoUrl is not null &&
            (s.PhotoUrl.Length > MaxUrlLength || !Uri.TryCreate(s.PhotoUrl, UriKind.Absolute, out var uri) ||
             (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)))
        {
            Add("photo.url", "format", $"photo.url must be an absolute http(s) URL of at most {MaxUrlLength} characters.");
        }

        if (s.AmendsVersion is { } amends)
        {
            if (amends < 1)
            {
                Add("amends.version", "range", "amends.version must be 1 or more.");
            }

            if (string.IsNullOrWhiteSpace(s.AmendReason))
            {
                Add("amends.reason", "required", "An amendment needs a reason.");
            }
            else if (s.AmendReason.Length > MaxReasonLength)
            {
                Add("amends.reason", "size", $"amends.reason is longer than {MaxReasonLength} characters.");
            }
        }
        else if (s.AmendReason is not null)
        {
            Add("amends.version", "required", "amends.reason was given without the version it replaces.");
        }

        return errors;
    }

    private static void CheckFigure(List<FieldError> errors, string field, int? value)
    {
        if (value is < 0)
        {
            errors.Add(new FieldError(field, "non-negative", $"{field} must not be negative (got {value})."));
        }
        else if (value is > MaxFigure)
        {
            errors.Add(new FieldError(field, "range", $"{field} is {value}, more than {MaxFigure:N0}, which no polling unit has."));
        }
    }

    /// <summary>
    /// Rules 1 to 5 (and a mismatch with the register): the flags a well-formed sheet carries.
    /// <paramref name="register"/> is the unit's registered voters from the election's register,
    /// which rule 2 uses (the sheet's own copy of that figure can be wrong).
    /// </summary>
    public static string[] Check(SheetFigures f, long register)
    {
        var flags = new List<string>(2);
        long partySum = 0;
        foreach (var v in f.Votes)
        {
            partySum += v.Votes;
        }

        // Rule 1 takes the largest count of votes the sheet shows, so a wrongly low "total cast"
        // cannot hide over-voting that its own party figures reveal.
        var cast = Math.Max(f.TotalCast, Math.Max((long)f.TotalValid + f.Rejected, partySum + f.Rejected));
        if (cast > f.AccreditedVoters)
        {
            flags.Add(SheetFlags.OverVoting);
        }

        if (f.AccreditedVoters > register)
        {
            flags.Add(SheetFlags.AccreditedOverRegistered);
        }

        if (f.TotalCast != (long)f.TotalValid + f.Rejected)
        {
            flags.Add(SheetFlags.CastArithmetic);
        }

        if (partySum != f.TotalValid)
        {
            flags.Add(SheetFlags.ValidArithmetic);
        }

        if (f.BallotsIssued is { } issued && f.BallotsSpoilt is { } spoilt && f.BallotsUnused is { } unused &&
            issued != (long)f.TotalValid + f.Rejected + spoilt + unused)
        {
            flags.Add(SheetFlags.BallotAccounting);
        }

        if (f.RegisteredVoters is { } written && written != register)
        {
            flags.Add(SheetFlags.RegisteredMismatch);
        }

        return flags.ToArray();
    }

    /// <summary>The unit's status given the flags of its agreed sheet (rules 1 to 5, in order of gravity).</summary>
    public static UnitStatus StatusOf(IReadOnlyCollection<string> flags)
    {
        if (flags.Contains(SheetFlags.OverVoting))
        {
            return UnitStatus.Cancelled;
        }

        if (flags.Contains(SheetFlags.AccreditedOverRegistered))
        {
            return UnitStatus.HeldForReview;
        }

        if (flags.Contains(SheetFlags.CastArithmetic) || flags.Contains(SheetFlags.ValidArithmetic) ||
            flags.Contains(SheetFlags.BallotAccounting))
        {
            return UnitStatus.Flagged;
        }

        return UnitStatus.Counted;
    }

    /// <summary>
    /// The sheet with every party listed once, in the election's party order, missing parties as 0:
    /// the form in which copies are compared, hashed and stored.
    /// </summary>
    public static SheetFigures Normalize(SheetFigures f, Election election)
    {
        var votes = new PartyVotes[election.Parties.Count];
        for (var i = 0; i < votes.Length; i++)
        {
            votes[i] = new PartyVotes(election.Parties[i].Code, 0);
        }

        foreach (var v in f.Votes)
        {
            votes[election.PartyIndex(v.Party)] = v;
        }

        return f with { Votes = votes };
    }
}
