using Tprcs.Contracts;
using Tprcs.Grains.Domain;

namespace Tprcs.Tests.Domain;

public class SheetRulesTests
{
    private const long Register = 500;

    [Fact]
    public void A_consistent_sheet_carries_no_flag_and_is_counted()
    {
        var flags = SheetRules.Check(Sheets.Good(), Register);
        Assert.Empty(flags);
        Assert.Equal(UnitStatus.Counted, SheetRules.StatusOf(flags));
    }

    [Fact]
    public void Rule1_over_voting_cancels_the_unit()
    {
        // 190 valid + 5 rejected = 195 cast, but only 150 accredited.
        var flags = SheetRules.Check(Sheets.Good(accredited: 150), Register);
        Assert.Contains(SheetFlags.OverVoting, flags);
        Assert.Equal(UnitStatus.Cancelled, SheetRules.StatusOf(flags));
    }

    [Fact]
    public void Rule1_over_voting_is_seen_through_a_wrongly_low_total_cast()
    {
        var sheet = Sheets.Good(accredited: 150) with { TotalCast = 140 };
        Assert.Contains(SheetFlags.OverVoting, SheetRules.Check(sheet, Register));
    }

    [Fact]
    public void Rule2_accredited_over_registered_is_held_for_review()
    {
        var flags = SheetRules.Check(Sheets.Good(accredited: 600), Register);
        Assert.Equal([SheetFlags.AccreditedOverRegistered], flags);
        Assert.Equal(UnitStatus.HeldForReview, SheetRules.StatusOf(flags));
    }

    [Fact]
    public void Rule3_total_cast_must_equal_valid_plus_rejected()
    {
        var flags = SheetRules.Check(Sheets.Good() with { TotalCast = 194 }, Register);
        Assert.Equal([SheetFlags.CastArithmetic], flags);
        Assert.Equal(UnitStatus.Flagged, SheetRules.StatusOf(flags));
    }

    [Fact]
    public void Rule4_party_votes_must_add_up_to_total_valid()
    {
        var sheet = Sheets.Good() with { TotalValid = 191, TotalCast = 196 };
        var flags = SheetRules.Check(sheet, Register);
        Assert.Equal([SheetFlags.ValidArithmetic], flags);
        Assert.Equal(UnitStatus.Flagged, SheetRules.StatusOf(flags));
    }

    [Fact]
    public void Rule5_ballot_accounting_when_given()
    {
        // issued must be (valid + rejected) + spoilt + unused = 195 + 3 + 302 = 500.
        var good = Sheets.Good() with { BallotsIssued = 500, BallotsSpoilt = 3, BallotsUnused = 302 };
        Assert.Empty(SheetRules.Check(good, Register));
        var bad = good with { BallotsUnused = 300 };
        Assert.Equal([SheetFlags.BallotAccounting], SheetRules.Check(bad, Register));
    }

    [Fact]
    public void A_registered_figure_that_differs_from_the_register_is_flagged_but_still_counted()
    {
        var flags = SheetRules.Check(Sheets.Good() with { RegisteredVoters = 499 }, Register);
        Assert.Equal([SheetFlags.RegisteredMismatch], flags);
        Assert.Equal(UnitStatus.Counted, SheetRules.StatusOf(flags));
    }

    [Fact]
    public void Rule11_negative_numbers_are_refused_naming_the_field()
    {
        var s = Sheets.Submit("ED/01/01/001", Sheets.Good() with { Rejected = -1 });
        var error = Assert.Single(SheetRules.Validate(s, Sheets.Edo));
        Assert.Equal(("rejected", "non-negative"), (error.Field, error.Rule));
    }

    [Fact]
    public void Rule11_unknown_and_duplicate_parties_are_refused_naming_the_party()
    {
        var figures = Sheets.Good() with { Votes = [new PartyVotes("XYZ", 1), new PartyVotes("APC", 1), new PartyVotes("APC", 2)] };
        var errors = SheetRules.Validate(Sheets.Submit("ED/01/01/001", figures), Sheets.Edo);
        Assert.Contains(errors, e => e is { Field: "votes.XYZ", Rule: "unknown-party" });
        Assert.Contains(errors, e => e is { Field: "votes.APC", Rule: "duplicate" });
    }

    [Fact]
    public void Rule11_absurd_sizes_and_partial_ballot_accounting_are_refused()
    {
        var figures = Sheets.Good() with { AccreditedVoters = 5_000_000, BallotsIssued = 10 };
        var errors = SheetRules.Validate(Sheets.Submit("ED/01/01/001", figures), Sheets.Edo);
        Assert.Contains(errors, e => e is { Field: "accreditedVoters", Rule: "range" });
        Assert.Contains(errors, e => e is { Field: "ballots", Rule: "complete" });
    }

    [Fact]
    public void Rule11_bad_ids_photo_and_amendment_fields_are_refused()
    {
        var s = Sheets.Submit("ED/01/01/001", Sheets.Good(), id: "has space") with
        {
            PhotoSha256 = "abc",
            PhotoUrl = "ftp://x",
            AmendsVersion = 0,
        };
        var fields = SheetRules.Validate(s, Sheets.Edo).Select(e => e.Field).ToHashSet();
        Assert.Superset(new HashSet<string> { "submissionId", "photo.sha256", "photo.url", "amends.version", "amends.reason" }, fields);
    }

    [Fact]
    public void Normalize_lists_every_party_in_election_order_with_missing_ones_as_zero()
    {
        var normalized = SheetRules.Normalize(Sheets.Good(), Sheets.Edo);
        Assert.Equal(Sheets.Edo.Parties.Select(p => p.Code), normalized.Votes.Select(v => v.Party));
        Assert.Equal(190, normalized.Votes.Sum(v => v.Votes));
    }
}
