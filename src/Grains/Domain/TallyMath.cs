using Tprcs.Contracts;

namespace Tprcs.Grains.Domain;

/// <summary>Exact, additive arithmetic over <see cref="Tally"/>. Parent = sum of children by construction.</summary>
public static class TallyMath
{
    public static readonly FlagCounts NoFlags = new(0, 0, 0, 0, 0, 0, 0);

    /// <summary>The tally of units (or areas) with no sheet yet: only the register and the unit count.</summary>
    public static Tally Empty(int parties, long registeredVoters, int units) =>
        new(new long[parties], registeredVoters, 0, 0, 0, 0, units, 0, 0, 0, 0, 0, NoFlags);

    /// <summary>The sum of the children's tallies, without copying them out first (called on every flush).</summary>
    public static Tally Sum(int parties, ChildReport[] children) => SumOf(parties, children, static c => c.Tally);

    public static Tally Sum(int parties, IReadOnlyList<Tally> tallies) => SumOf(parties, tallies, static t => t);

    private static Tally SumOf<T>(int parties, IReadOnlyList<T> items, Func<T, Tally> tallyOf)
    {
        var votes = new long[parties];
        long registered = 0, accredited = 0, rejected = 0, valid = 0, cast = 0, covered = 0, cancelledVoters = 0;
        int units = 0, reported = 0, counted = 0, cancelled = 0;
        int f0 = 0, f1 = 0, f2 = 0, f3 = 0, f4 = 0, f5 = 0, f6 = 0;
        for (var n = 0; n < items.Count; n++)
        {
            var t = tallyOf(items[n]);
            for (var i = 0; i < votes.Length; i++)
            {
                votes[i] += t.Votes[i];
            }

            registered += t.RegisteredVoters;
            accredited += t.AccreditedVoters;
            rejected += t.Rejected;
            valid += t.TotalValid;
            cast += t.TotalCast;
            units += t.UnitsTotal;
            reported += t.UnitsReported;
            counted += t.UnitsCounted;
            cancelled += t.UnitsCancelled;
            covered += t.RegisteredCovered;
            cancelledVoters += t.RegisteredCancelled;
            f0 += t.Flags.OverVoting;
            f1 += t.Flags.AccreditedOverRegistered;
            f2 += t.Flags.CastArithmetic;
            f3 += t.Flags.ValidArithmetic;
            f4 += t.Flags.BallotAccounting;
            f5 += t.Flags.RegisteredMismatch;
            f6 += t.Flags.CopyConflict;
        }

        return new Tally(votes, registered, accredited, rejected, valid, cast, units, reported, counted, cancelled,
            covered, cancelledVoters, new FlagCounts(f0, f1, f2, f3, f4, f5, f6));
    }

    /// <summary>Field-by-field equality (records compare arrays by reference, so this is needed).</summary>
    public static bool Same(Tally a, Tally b) =>
        a.Votes.AsSpan().SequenceEqual(b.Votes) && a with { Votes = b.Votes } == b;
}
