using Tprcs.Contracts;
using Tprcs.Grains.Elections;

namespace Tprcs.Tests.Cluster;

/// <summary>Random but plausible sheets for a unit, from a seeded generator.</summary>
public sealed class SheetGenerator(Election election, int seed)
{
    private readonly Random _random = new(seed);
    private readonly string[] _parties = election.Parties.Select(p => p.Code).ToArray();

    public int Next(int max) => _random.Next(max);

    public SheetFigures Good(AreaRef unit)
    {
        var register = (int)unit.RegisteredVoters;
        var accredited = _random.Next(register / 4, register + 1);
        var rejected = Math.Min(accredited, _random.Next(0, 12));
        var valid = Math.Max(0, accredited - rejected - _random.Next(0, 6));
        var votes = new Dictionary<string, int>();
        var left = valid;
        var count = _random.Next(2, Math.Min(6, _parties.Length) + 1);
        foreach (var party in _parties.OrderBy(_ => _random.Next()).Take(count))
        {
            var share = votes.Count == count - 1 ? left : _random.Next(0, left + 1);
            votes[party] = share;
            left -= share;
        }

        return new SheetFigures(null, accredited, null, null, null, rejected,
            votes.Select(kv => new PartyVotes(kv.Key, kv.Value)).ToArray(), valid, valid + rejected);
    }

    /// <summary>The same sheet with one party's figure (and the totals) changed: another agent's differing copy.</summary>
    public SheetFigures Differing(SheetFigures f)
    {
        var votes = f.Votes.ToArray();
        var i = _random.Next(votes.Length);
        var bump = _random.Next(1, 20);
        votes[i] = votes[i] with { Votes = votes[i].Votes + bump };
        return f with { Votes = votes, TotalValid = f.TotalValid + bump, TotalCast = f.TotalCast + bump, AccreditedVoters = f.AccreditedVoters + bump };
    }

    public SheetFigures OverVoted(SheetFigures f) => f with { AccreditedVoters = Math.Max(0, f.TotalCast - 1 - _random.Next(10)) };

    public SheetFigures ArithmeticError(SheetFigures f) => f with { TotalCast = f.TotalCast + 1 + _random.Next(5) };
}
