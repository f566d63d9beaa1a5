using System.Collections.Immutable;

namespace Tprcs.Client;

/// <summary>The self-consistency rule of a feed document: totals equal the sum of the rows, field by field.</summary>
public static class TallyMath
{
    /// <summary>
    /// Null when every additive field of <paramref name="totals"/> (votes per party, voters, units,
    /// flags...) equals the sum of that field over <paramref name="rows"/>; otherwise the name of the
    /// first field that differs, with both values. With no rows there is nothing to check.
    /// </summary>
    public static string? FindMismatch(Tally totals, IReadOnlyCollection<FeedRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return FindMismatch(totals, rows is ImmutableArray<FeedRow> array ? array : [.. rows]);
    }

    /// <inheritdoc cref="FindMismatch(Tally, IReadOnlyCollection{FeedRow})"/>
    /// <remarks>The stores' overload: checked on every applied delta, without boxing the rows.</remarks>
    public static string? FindMismatch(Tally totals, ImmutableArray<FeedRow> rows)
    {
        ArgumentNullException.ThrowIfNull(totals);
        if (rows.IsDefaultOrEmpty)
        {
            return null;
        }

        var parties = totals.Votes.IsDefault ? 0 : totals.Votes.Length;
        Span<long> votes = parties <= 64 ? stackalloc long[parties] : new long[parties];
        long registered = 0, accredited = 0, rejected = 0, valid = 0, cast = 0;
        long unitsTotal = 0, unitsReported = 0, unitsCounted = 0, unitsCancelled = 0;
        long covered = 0, cancelled = 0;
        long overVoting = 0, accreditedOver = 0, castArithmetic = 0, validArithmetic = 0, ballots = 0, mismatch = 0, conflict = 0;
        foreach (var row in rows)
        {
            var t = row.Tally;
            var rowParties = t.Votes.IsDefault ? 0 : t.Votes.Length;
            if (rowParties != parties)
            {
                return $"votes of row {row.Code}: {rowParties} parties, totals have {parties}";
            }

            for (var i = 0; i < parties; i++)
            {
                votes[i] += t.Votes[i];
            }

            registered += t.RegisteredVoters;
            accredited += t.AccreditedVoters;
            rejected += t.Rejected;
            valid += t.TotalValid;
            cast += t.TotalCast;
            unitsTotal += t.Units.Total;
            unitsReported += t.Units.Reported;
            unitsCounted += t.Units.Counted;
            unitsCancelled += t.Units.Cancelled;
            covered += t.RegisteredCovered;
            cancelled += t.RegisteredCancelled;
            overVoting += t.Flags.OverVoting;
            accreditedOver += t.Flags.AccreditedOverRegistered;
            castArithmetic += t.Flags.CastArithmetic;
            validArithmetic += t.Flags.ValidArithmetic;
            ballots += t.Flags.BallotAccounting;
            mismatch += t.Flags.RegisteredMismatch;
            conflict += t.Flags.CopyConflict;
        }

        for (var i = 0; i < parties; i++)
        {
            if (votes[i] != totals.Votes[i])
            {
                return Differs($"votes[{i}]", totals.Votes[i], votes[i]);
            }
        }

        return Check("registeredVoters", totals.RegisteredVoters, registered)
            ?? Check("accreditedVoters", totals.AccreditedVoters, accredited)
            ?? Check("rejected", totals.Rejected, rejected)
            ?? Check("totalValid", totals.TotalValid, valid)
            ?? Check("totalCast", totals.TotalCast, cast)
            ?? Check("units.total", totals.Units.Total, unitsTotal)
            ?? Check("units.reported", totals.Units.Reported, unitsReported)
            ?? Check("units.counted", totals.Units.Counted, unitsCounted)
            ?? Check("units.cancelled", totals.Units.Cancelled, unitsCancelled)
            ?? Check("registeredCovered", totals.RegisteredCovered, covered)
            ?? Check("registeredCancelled", totals.RegisteredCancelled, cancelled)
            ?? Check("flags.overVoting", totals.Flags.OverVoting, overVoting)
            ?? Check("flags.accreditedOverRegistered", totals.Flags.AccreditedOverRegistered, accreditedOver)
            ?? Check("flags.castArithmetic", totals.Flags.CastArithmetic, castArithmetic)
            ?? Check("flags.validArithmetic", totals.Flags.ValidArithmetic, validArithmetic)
            ?? Check("flags.ballotAccounting", totals.Flags.BallotAccounting, ballots)
            ?? Check("flags.registeredMismatch", totals.Flags.RegisteredMismatch, mismatch)
            ?? Check("flags.copyConflict", totals.Flags.CopyConflict, conflict);
    }

    private static string? Check(string field, long total, long sum) => total == sum ? null : Differs(field, total, sum);

    private static string Differs(string field, long total, long sum) => $"totals.{field} is {total}, the rows add up to {sum}";
}
