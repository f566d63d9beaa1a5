using Tprcs.Contracts;
using Tprcs.Grains.Elections;
using Tprcs.Grains.Storage;

namespace Tprcs.Tests.Domain;

/// <summary>Builders for sheets and log rows in tests.</summary>
public static class Sheets
{
    private static readonly Lazy<Election> EdoElection = new(() => ElectionLoader.Load(ElectionGenerator.Edo()));

    public static Election Edo => EdoElection.Value;

    /// <summary>A consistent sheet: valid = sum of votes, cast = valid + rejected, cast ≤ accredited.</summary>
    public static SheetFigures Good(int apc = 100, int pdp = 80, int lp = 10, int rejected = 5, int accredited = 200) =>
        new(null, accredited, null, null, null, rejected,
            [new PartyVotes("APC", apc), new PartyVotes("PDP", pdp), new PartyVotes("LP", lp)],
            apc + pdp + lp, apc + pdp + lp + rejected);

    public static SubmitSheet Submit(string unit, SheetFigures figures, string? id = null, string agent = "agent-1",
        int? amends = null, string? reason = null) =>
        new(id ?? Guid.NewGuid().ToString("N"), Edo.Id, unit, agent, figures, null, null, null, null, amends, reason);

    public static SubmissionRecord Record(SubmitSheet s, int version, Election? election = null)
    {
        var e = election ?? Edo;
        Assert.True(e.TryGetArea(s.PollingUnit, out var unit), $"unknown unit {s.PollingUnit}");
        var normalized = s with { Figures = Tprcs.Grains.Domain.SheetRules.Normalize(s.Figures, e) };
        var body = SubmissionRecord.Serialize(normalized);
        return new SubmissionRecord(e.Id, s.PollingUnit, unit.Parent!, version, s.SubmissionId, s.Agent,
            DateTimeOffset.UnixEpoch.AddMinutes(version), SubmissionRecord.Hash(body), normalized);
    }

    /// <summary>The first polling unit of the Edo sample, and its registered voters.</summary>
    public static AreaRef FirstUnit
    {
        get
        {
            var ward = Edo.ChildrenOf(Edo.ChildrenOf(Edo.Root.Code)[0].Code)[0];
            return Edo.ChildrenOf(ward.Code)[0];
        }
    }
}
