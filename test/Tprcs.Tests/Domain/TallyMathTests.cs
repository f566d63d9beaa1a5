using Tprcs.Contracts;
using Tprcs.Grains.Domain;

namespace Tprcs.Tests.Domain;

public class TallyMathTests
{
    private static Tally T(long[] votes, long registered, long cancelled = 0) =>
        TallyMath.Empty(votes.Length, registered, 1) with { Votes = votes, RegisteredCancelled = cancelled };

    [Fact]
    public void Sum_adds_every_field_exactly()
    {
        var a = T([1, 2], 10) with { UnitsCounted = 1, Flags = TallyMath.NoFlags with { OverVoting = 1 } };
        var b = T([3, 4], 20) with { UnitsReported = 1, Flags = TallyMath.NoFlags with { CopyConflict = 2 } };
        var s = TallyMath.Sum(2, [a, b]);
        Assert.Equal([4L, 6L], s.Votes);
        Assert.Equal((30L, 2, 1, 1), (s.RegisteredVoters, s.UnitsTotal, s.UnitsCounted, s.UnitsReported));
        Assert.Equal((1, 2), (s.Flags.OverVoting, s.Flags.CopyConflict));
    }

    [Fact]
    public void Same_compares_votes_by_value()
    {
        Assert.True(TallyMath.Same(T([1, 2], 5), T([1, 2], 5)));
        Assert.False(TallyMath.Same(T([1, 2], 5), T([2, 1], 5)));
    }

    [Fact]
    public void Rule7_an_area_is_at_risk_when_cancelled_register_reaches_the_margin()
    {
        // Yobe South 2023: 1,118 cancelled registered voters against a margin of 617.
        Assert.True(T([10_617, 10_000], 100_000, cancelled: 1_118).AtRisk());
        Assert.False(T([10_617, 10_000], 100_000, cancelled: 616).AtRisk());
        Assert.False(T([10_617, 10_000], 100_000).AtRisk());
    }
}
