using System.Diagnostics;
using System.Globalization;
using Tprcs.Grains.Elections;

const string usage = """
    Usage: dotnet run --project tools/Tprcs.ElectionGen -- --shape nigeria|edo [--seed N] --out FILE

    Writes a generated election definition (JSON, see docs/elections.md) to FILE, loads it back
    to check it, and prints the number of areas per level and the registered voters.

      --shape   nigeria  presidential, 37 states, 774 LGAs, 8,809 wards, 176,846 polling units
                edo      governorship, 18 LGAs, 192 wards, 4,519 polling units, 2,629,025 voters
      --seed    any integer; the same seed gives the same file (default: 2027 for nigeria, 2024 for edo)
      --out     the file to write (overwritten)
    """;

string? shape = null, output = null;
int? seed = null;
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    switch (args[i])
    {
        case "-h" or "--help":
            Console.WriteLine(usage);
            return 0;
        case "--shape" when value is not null && ElectionGenerator.Shapes.Contains(value):
            shape = value;
            break;
        case "--seed" when int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n):
            seed = n;
            break;
        case "--out" when !string.IsNullOrWhiteSpace(value):
            output = value;
            break;
        case "--shape" or "--seed" or "--out":
            return Fail(value is null ? $"{args[i]} needs a value" : $"bad value '{value}' for {args[i]}");
        default:
            return Fail($"unexpected argument '{args[i]}'");
    }

    i++;
}

if (shape is null || output is null)
{
    return Fail(shape is null ? "--shape is required" : "--out is required");
}

var clock = Stopwatch.StartNew();
var definition = shape == ElectionGenerator.NigeriaShape
    ? ElectionGenerator.Nigeria(seed ?? 2027)
    : ElectionGenerator.Edo(seed ?? 2024);
using (var file = File.Create(output))
{
    ElectionGenerator.WriteJson(definition, file);
}

var generated = clock.Elapsed;
clock.Restart();
Election election;
try
{
    election = ElectionLoader.LoadFile(output);
}
catch (ElectionDefinitionException ex)
{
    Console.Error.WriteLine($"The generated file does not load back: {ex.Message}");
    return 1;
}

var loaded = clock.Elapsed;
var inv = CultureInfo.InvariantCulture;
Console.WriteLine(string.Create(inv, $"{election.Id}: {election.Name}"));
Console.WriteLine(string.Create(inv, $"  written to {output} ({new FileInfo(output).Length / 1_048_576.0:0.0} MiB) in {generated.TotalSeconds:0.00} s, loaded back and validated in {loaded.TotalSeconds:0.00} s"));
foreach (var count in election.Summary.Counts)
{
    Console.WriteLine(string.Create(inv, $"  {count.Level,-14}{count.Areas,10:N0}"));
}

Console.WriteLine(string.Create(inv, $"  {"parties",-14}{election.Parties.Count,10:N0}"));
Console.WriteLine(string.Create(inv, $"  {"voters",-14}{election.RegisteredVoters,10:N0}"));
return 0;

static int Fail(string problem)
{
    Console.Error.WriteLine($"error: {problem}");
    Console.Error.WriteLine();
    Console.Error.WriteLine(usage);
    return 2;
}
