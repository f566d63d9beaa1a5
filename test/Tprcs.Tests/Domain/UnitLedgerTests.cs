using Tprcs.Contracts;
using Tprcs.Grains.Domain;

namespace Tprcs.Tests.Domain;

public class UnitLedgerTests
{
    private static UnitLedger NewLedger() => new(Sheets.Edo, Sheets.FirstUnit);

    private static string Unit => Sheets.FirstUnit.Code;

    private static SubmissionReceipt Add(UnitLedger ledger, Tprcs.Contracts.SubmitSheet s) =>
        ledger.Apply(Sheets.Record(s, ledger.Version + 1));

    [Fact]
    public void A_unit_without_sheets_counts_only_its_register()
    {
        var t = NewLedger().Tally;
        Assert.Equal((1, 0, 0, Sheets.FirstUnit.RegisteredVoters, 0L), (t.UnitsTotal, t.UnitsReported, t.UnitsCounted, t.RegisteredVoters, t.Votes.Sum()));
    }

    [Fact]
    public void A_good_sheet_is_counted_with_its_votes_and_coverage()
    {
        var ledger = NewLedger();
        var receipt = Add(ledger, Sheets.Submit(Unit, Sheets.Good()));
        Assert.True(receipt.Counted);
        Assert.Equal(UnitStatus.Counted, ledger.Status);
        var t = ledger.Tally;
        Assert.Equal(190, t.Votes.Sum());
        Assert.Equal(100, t.Votes[Sheets.Edo.PartyIndex("APC")]);
        Assert.Equal((1, 1, 195L, Sheets.FirstUnit.RegisteredVoters), (t.UnitsReported, t.UnitsCounted, t.TotalCast, t.RegisteredCovered));
    }

    [Fact]
    public void An_over_voted_sheet_is_stored_flagged_and_its_votes_are_not_counted()
    {
        var ledger = NewLedger();
        var receipt = Add(ledger, Sheets.Submit(Unit, Sheets.Good(accredited: 10)));
        Assert.False(receipt.Counted);
        Assert.Equal(UnitStatus.Cancelled, receipt.UnitStatus);
        Assert.Equal(0, ledger.Tally.Votes.Sum());
        Assert.Equal(1, ledger.Tally.UnitsCancelled);
        Assert.Equal(Sheets.FirstUnit.RegisteredVoters, ledger.Tally.RegisteredCancelled);
        Assert.Equal(1, ledger.Tally.Flags.OverVoting);
        Assert.Single(ledger.View().Copies);
    }

    [Fact]
    public void Agreeing_copies_from_two_agents_are_counted_once()
    {
        var ledger = NewLedger();
        Add(ledger, Sheets.Submit(Unit, Sheets.Good(), agent: "a"));
        Add(ledger, Sheets.Submit(Unit, Sheets.Good(), agent: "b"));
        Assert.Equal(UnitStatus.Counted, ledger.Status);
        Assert.Equal(190, ledger.Tally.Votes.Sum());
        Assert.Equal(2, ledger.View().Copies.Length);
    }

    [Fact]
    public void Differing_copies_are_a_conflict_named_field_by_field_and_not_counted()
    {
        var ledger = NewLedger();
        Add(ledger, Sheets.Submit(Unit, Sheets.Good(apc: 100), agent: "a"));
        var receipt = Add(ledger, Sheets.Submit(Unit, Sheets.Good(apc: 120), agent: "b"));
        Assert.Equal(UnitStatus.Conflict, receipt.UnitStatus);
        Assert.False(receipt.Counted);
        Assert.Equal(["votes.APC", "totalValid", "totalCast"], ledger.ConflictFields);
        Assert.Contains(SheetFlags.CopyConflict, ledger.Flags);
        Assert.Equal(0, ledger.Tally.Votes.Sum());
        Assert.Equal(1, ledger.Tally.Flags.CopyConflict);
    }

    [Fact]
    public void An_amendment_replaces_its_version_and_settles_a_conflict()
    {
        var ledger = NewLedger();
        Add(ledger, Sheets.Submit(Unit, Sheets.Good(apc: 100), agent: "a"));
        Add(ledger, Sheets.Submit(Unit, Sheets.Good(apc: 120), agent: "b"));
        var receipt = Add(ledger, Sheets.Submit(Unit, Sheets.Good(apc: 100), agent: "b", amends: 2, reason: "misread APC"));
        Assert.Equal((3, 2), (receipt.Version, receipt.Replaces!.Value));
        Assert.Equal(UnitStatus.Counted, ledger.Status);
        Assert.Equal(100, ledger.Tally.Votes[Sheets.Edo.PartyIndex("APC")]);
        var copies = ledger.View().Copies;
        Assert.Equal(3, copies[1].ReplacedBy);
        Assert.Equal("misread APC", copies[2].Reason);
        Assert.Equal(3, copies.Length);
    }

    [Fact]
    public void An_amendment_of_an_already_replaced_or_unknown_version_is_refused()
    {
        var ledger = NewLedger();
        Add(ledger, Sheets.Submit(Unit, Sheets.Good()));
        Add(ledger, Sheets.Submit(Unit, Sheets.Good(apc: 1), amends: 1, reason: "r"));
        Assert.Equal("amendment-target", ledger.CheckAmendment(1)!.Rule);
        Assert.Equal("amendment-target", ledger.CheckAmendment(7)!.Rule);
        Assert.Null(ledger.CheckAmendment(2));
    }

    [Fact]
    public void Replaying_the_rows_gives_the_same_receipts_and_state()
    {
        var sheets = new[]
        {
            Sheets.Submit(Unit, Sheets.Good(), id: "a1"),
            Sheets.Submit(Unit, Sheets.Good(apc: 7), id: "b1", agent: "b"),
            Sheets.Submit(Unit, Sheets.Good(), id: "b2", agent: "b", amends: 2, reason: "fix"),
        };
        var first = NewLedger();
        var receipts = sheets.Select(s => Add(first, s)).ToArray();
        var replay = NewLedger();
        for (var i = 0; i < sheets.Length; i++)
        {
            replay.Apply(Sheets.Record(sheets[i], i + 1));
        }

        foreach (var r in receipts)
        {
            Assert.True(replay.TryGetReceipt(r.SubmissionId, out var again, out _));
            Assert.Equal(r with { Flags = again.Flags }, again);
            Assert.Equal(r.Flags, again.Flags);
        }

        Assert.True(TallyMath.Same(first.Tally, replay.Tally));
        Assert.Equal(first.Status, replay.Status);
    }
}
