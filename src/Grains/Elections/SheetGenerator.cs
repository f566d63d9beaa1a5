using System.Text.Json;
using Tprcs.Contracts;

namespace Tprcs.Grains.Elections;

/// <summary>Synthetic result sheets for the generated elections (benchmarks and load tools).</summary>
public static class SheetGenerator
{
    /// <summary>
    /// The JSON body of a sheet that passes every rule, so that the unit ends up counted: accredited
    /// voters between a third of the register and all of it, a few rejected ballots, the valid votes
    /// spread over the parties. Its votes per party are added to <paramref name="expected"/> when given.
    /// </summary>
    public static byte[] Consistent(Election election, AreaRef unit, string submissionId, Random random, long[]? expected = null)
    {
        var register = (int)unit.RegisteredVoters;
        var accredited = random.Next(register / 3, register + 1);
        var rejected = Math.Min(accredited, random.Next(0, 10));
        var valid = accredited - rejected;
        using var stream = new MemoryStream(512);
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("submissionId", submissionId);
            json.WriteString("pollingUnit", unit.Code);
            json.WriteNumber("accreditedVoters", accredited);
            json.WriteNumber("rejected", rejected);
            json.WriteStartObject("votes");
            var left = valid;
            var parties = election.Parties;
            for (var p = 0; p < parties.Count; p++)
            {
                var share = p == parties.Count - 1 ? left : (p < 4 ? random.Next(0, left + 1) : random.Next(0, Math.Min(left, 5) + 1));
                left -= share;
                if (expected is not null)
                {
                    expected[p] += share;
                }

                json.WriteNumber(parties[p].Code, share);
            }

            json.WriteEndObject();
            json.WriteNumber("totalValid", valid);
            json.WriteNumber("totalCast", valid + rejected);
            json.WriteEndObject();
        }

        return stream.ToArray();
    }
}
