using System.Text.Json;

namespace Tprcs.Grains.Elections;

/// <summary>
/// Synthetic elections with the real shape and size of Nigerian ones, for load tests and demos.
/// The same seed gives the same definition byte for byte on every machine: only
/// <see cref="Random"/> with a seed and integer arithmetic are used, no floating point.
/// </summary>
public static class ElectionGenerator
{
    public const string NigeriaShape = "nigeria";
    public const string EdoShape = "edo";

    public static IReadOnlyList<string> Shapes { get; } = [NigeriaShape, EdoShape];

    public const int NigeriaWards = 8_809;
    public const int NigeriaPollingUnits = 176_846;
    public const int EdoWards = 192;
    public const int EdoPollingUnits = 4_519;
    public const long EdoRegisteredVoters = 2_629_025;

    public const int MinUnitVoters = 50;
    public const int MaxUnitVoters = 3_500;

    // A floor of ten wards per LGA keeps the shape plausible; the extra wards go mostly to a few LGAs.
    private const int MinWardsPerLga = 10;
    private const int MinUnitsPerWard = 3;

    private static readonly PartyDefinition[] Parties2023 =
    [
        new() { Code = "A", Name = "Accord" },
        new() { Code = "AA", Name = "Action Alliance" },
        new() { Code = "AAC", Name = "African Action Congress" },
        new() { Code = "ADC", Name = "African Democratic Congress" },
        new() { Code = "ADP", Name = "Action Democratic Party" },
        new() { Code = "APC", Name = "All Progressives Congress" },
        new() { Code = "APGA", Name = "All Progressives Grand Alliance" },
        new() { Code = "APM", Name = "Allied Peoples Movement" },
        new() { Code = "APP", Name = "Action Peoples Party" },
        new() { Code = "BP", Name = "Boot Party" },
        new() { Code = "LP", Name = "Labour Party" },
        new() { Code = "NNPP", Name = "New Nigeria Peoples Party" },
        new() { Code = "NRM", Name = "National Rescue Movement" },
        new() { Code = "PDP", Name = "Peoples Democratic Party" },
        new() { Code = "PRP", Name = "Peoples Redemption Party" },
        new() { Code = "SDP", Name = "Social Democratic Party" },
        new() { Code = "YPP", Name = "Young Progressives Party" },
        new() { Code = "ZLP", Name = "Zenith Labour Party" },
    ];

    /// <summary>
    /// INEC state codes, names and LGA counts (774 in all). The last column is roughly the 2023
    /// register in thousands; it only weights how many polling units each state gets.
    /// </summary>
    private static readonly (string Code, string Name, int Lgas, int RegisterThousands)[] States =
    [
        ("AB", "Abia", 17, 2121),
        ("AD", "Adamawa", 21, 2197),
        ("AK", "Akwa Ibom", 31, 2357),
        ("AN", "Anambra", 21, 2656),
        ("BA", "Bauchi", 20, 2749),
        ("BY", "Bayelsa", 8, 1057),
        ("BE", "Benue", 23, 2778),
        ("BO", "Borno", 27, 2513),
        ("CR", "Cross River", 18, 1766),
        ("DE", "Delta", 25, 3222),
        ("EB", "Ebonyi", 13, 1598),
        ("ED", "Edo", 18, 2501),
        ("EK", "Ekiti", 16, 988),
        ("EN", "Enugu", 17, 2113),
        ("FC", "Federal Capital Territory", 6, 1570),
        ("GO", "Gombe", 11, 1576),
        ("IM", "Imo", 27, 2420),
        ("JI", "Jigawa", 27, 2351),
        ("KD", "Kaduna", 23, 4335),
        ("KN", "Kano", 44, 5921),
        ("KT", "Katsina", 34, 3517),
        ("KE", "Kebbi", 21, 2032),
        ("KO", "Kogi", 21, 1933),
        ("KW", "Kwara", 16, 1696),
        ("LA", "Lagos", 20, 7060),
        ("NA", "Nasarawa", 13, 1899),
        ("NI", "Niger", 25, 2698),
        ("OG", "Ogun", 20, 2688),
        ("ON", "Ondo", 18, 1991),
        ("OS", "Osun", 30, 1955),
        ("OY", "Oyo", 33, 3277),
        ("PL", "Plateau", 17, 2790),
        ("RI", "Rivers", 23, 3537),
        ("SO", "Sokoto", 23, 2172),
        ("TA", "Taraba", 16, 2022),
        ("YO", "Yobe", 17, 1485),
        ("ZA", "Zamfara", 14, 1927),
    ];

    private static readonly string[] StateLevels = ["state", "lga", "ward", "polling-unit"];

    private static readonly string[] EdoLgas =
    [
        "Akoko-Edo", "Egor", "Esan Central", "Esan North-East", "Esan South-East", "Esan West",
        "Etsako Central", "Etsako East", "Etsako West", "Igueben", "Ikpoba-Okha", "Oredo",
        "Orhionmwon", "Ovia North-East", "Ovia South-West", "Owan East", "Owan West", "Uhunmwonde",
    ];

    /// <summary>
    /// Registered voters per unit: bands and how many units in a thousand fall in each. Most units
    /// hold 200 to 1,200 voters, a few are tiny or very large; the mean is about 525, which puts
    /// a Nigeria-sized register near 93 million.
    /// </summary>
    private static readonly (int Low, int High, int PerMille)[] UnitSizes =
    [
        (MinUnitVoters, 199, 70),
        (200, 399, 330),
        (400, 599, 317),
        (600, 799, 160),
        (800, 1_199, 95),
        (1_200, 1_999, 22),
        (2_000, MaxUnitVoters, 6),
    ];

    private static readonly string[] Places =
    [
        "Primary School", "Secondary School", "Town Hall", "Market Square", "Health Centre",
        "Village Square", "Community Hall", "Open Space", "Motor Park", "Civic Centre",
        "Junior Secondary School", "Model School",
    ];

    /// <exception cref="ArgumentException">The shape is neither "nigeria" nor "edo".</exception>
    public static ElectionDefinition Create(string shape, int seed) => shape switch
    {
        NigeriaShape => Nigeria(seed),
        EdoShape => Edo(seed),
        _ => throw new ArgumentException($"Unknown election shape '{shape}'; expected one of: {string.Join(", ", Shapes)}.", nameof(shape)),
    };

    /// <summary>A presidential election over the whole federation: 37 states, 774 LGAs, 8,809 wards, 176,846 polling units.</summary>
    public static ElectionDefinition Nigeria(int seed = 2027)
    {
        var rng = new Random(seed);
        var lgaCount = States.Sum(s => s.Lgas);
        var wardsPerLga = Spread(NigeriaWards, Weights(rng, lgaCount, WardWeightOfLga), MinWardsPerLga);

        // Units follow the size of each state's register, so Lagos wards are crowded and Ekiti's are not.
        var unitsPerState = Spread(NigeriaPollingUnits, States.Select(s => s.RegisterThousands).ToArray(), 0);
        var unitsPerWard = new List<int>(NigeriaWards);
        var firstLga = 0;
        for (var s = 0; s < States.Length; s++)
        {
            var wards = wardsPerLga.Skip(firstLga).Take(States[s].Lgas).Sum();
            unitsPerWard.AddRange(Spread(unitsPerState[s], Weights(rng, wards, UnitWeightOfWard), MinUnitsPerWard));
            firstLga += States[s].Lgas;
        }

        var def = NewDefinition("ng-2027-pres", "Presidential election 2027 (generated, Nigeria-sized)", "presidential", ["nation", .. StateLevels], Parties2023);
        var tree = new Tree(def, rng, [.. unitsPerWard], DrawVoters(rng, NigeriaPollingUnits));
        tree.Area("NG", "Nigeria", "nation", parent: null);
        var lga = 0;
        foreach (var state in States)
        {
            tree.Area(state.Code, state.Name, "state", "NG");
            for (var i = 1; i <= state.Lgas; i++)
            {
                tree.Lga($"{state.Code}/{i:00}", $"{state.Name} LGA {i:00}", state.Code, wardsPerLga[lga++]);
            }
        }

        return def;
    }

    /// <summary>A governorship election shaped like Edo 2024: 18 LGAs, 192 wards, 4,519 units, 2,629,025 registered voters.</summary>
    public static ElectionDefinition Edo(int seed = 2024)
    {
        var rng = new Random(seed);
        var wardsPerLga = Spread(EdoWards, Weights(rng, EdoLgas.Length, WardWeightOfLga), MinWardsPerLga);
        var unitsPerWard = Spread(EdoPollingUnits, Weights(rng, EdoWards, UnitWeightOfWard), MinUnitsPerWard);
        var voters = DrawVoters(rng, EdoPollingUnits);
        HitTotal(voters, EdoRegisteredVoters);

        // Seventeen parties were on the 2024 ballot; which one of the 2023 list is left out does not matter here.
        var parties = Parties2023.Where(p => p.Code != "NRM").ToArray();
        var def = NewDefinition("edo-2024-gov", "Edo governorship election 2024 (generated)", "governorship", [.. StateLevels], parties);
        var tree = new Tree(def, rng, unitsPerWard, voters);
        tree.Area("ED", "Edo", "state", parent: null);
        for (var i = 0; i < EdoLgas.Length; i++)
        {
            tree.Lga($"ED/{i + 1:00}", EdoLgas[i], "ED", wardsPerLga[i]);
        }

        return def;
    }

    public static string ToJson(ElectionDefinition def) => JsonSerializer.Serialize(def, ElectionJson.Options);

    public static void WriteJson(ElectionDefinition def, Stream stream) => JsonSerializer.Serialize(stream, def, ElectionJson.Options);

    private static ElectionDefinition NewDefinition(string id, string name, string contest, List<string> levels, PartyDefinition[] parties) => new()
    {
        Id = id,
        Name = name,
        Contest = contest,
        Levels = levels,
        Parties = [.. parties.Select(p => new PartyDefinition { Code = p.Code, Name = p.Name })],
    };

    // Most LGAs keep the minimum; about one in twenty gets a large share of the extra wards.
    private static int WardWeightOfLga(Random rng) => rng.Next(1, 100) + (rng.Next(20) == 0 ? rng.Next(100, 400) : 0);

    // Ward sizes vary about fourfold, and one ward in ten is a crowded town ward.
    private static int UnitWeightOfWard(Random rng) => 30 + rng.Next(100) + (rng.Next(10) == 0 ? rng.Next(100, 250) : 0);

    private static int[] Weights(Random rng, int count, Func<Random, int> weight)
    {
        var weights = new int[count];
        for (var i = 0; i < count; i++)
        {
            weights[i] = weight(rng);
        }

        return weights;
    }

    /// <summary>
    /// Splits <paramref name="total"/> into one part per weight, each at least <paramref name="min"/>, the rest in
    /// proportion to the weights. Largest remainders take the leftover units so that the parts add up exactly.
    /// </summary>
    private static int[] Spread(int total, int[] weights, int min)
    {
        var rest = total - min * weights.Length;
        if (rest < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(total), $"{total} cannot give {weights.Length} parts at least {min} each.");
        }

        var sum = weights.Sum(w => (long)w);
        var parts = new int[weights.Length];
        var remainders = new long[weights.Length];
        var given = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            var share = (long)rest * weights[i];
            parts[i] = min + (int)(share / sum);
            remainders[i] = share % sum;
            given += (int)(share / sum);
        }

        foreach (var i in Enumerable.Range(0, weights.Length).OrderByDescending(i => remainders[i]).ThenBy(i => i).Take(rest - given))
        {
            parts[i]++;
        }

        return parts;
    }

    private static int[] DrawVoters(Random rng, int units)
    {
        var voters = new int[units];
        for (var u = 0; u < units; u++)
        {
            var roll = rng.Next(1000);
            var band = 0;
            while (roll >= UnitSizes[band].PerMille)
            {
                roll -= UnitSizes[band].PerMille;
                band++;
            }

            voters[u] = rng.Next(UnitSizes[band].Low, UnitSizes[band].High + 1);
        }

        return voters;
    }

    /// <summary>
    /// Scales the drawn sizes to an exact register total. Rounding down leaves fewer voters over
    /// than there are units; they go one by one to the last units.
    /// </summary>
    private static void HitTotal(int[] voters, long target)
    {
        if (target < (long)MinUnitVoters * voters.Length || target > (long)MaxUnitVoters * voters.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(target), $"{target} voters cannot fill {voters.Length} units of {MinUnitVoters} to {MaxUnitVoters}.");
        }

        var drawn = voters.Sum(v => (long)v);
        for (var u = 0; u < voters.Length; u++)
        {
            voters[u] = (int)Math.Clamp(voters[u] * target / drawn, MinUnitVoters, MaxUnitVoters);
        }

        var missing = target - voters.Sum(v => (long)v);
        for (var u = voters.Length - 1; missing != 0; u = u == 0 ? voters.Length - 1 : u - 1)
        {
            var step = Math.Sign(missing);
            if (voters[u] + step is >= MinUnitVoters and <= MaxUnitVoters)
            {
                voters[u] += step;
                missing -= step;
            }
        }
    }

    /// <summary>Appends areas in tree order (each area followed by everything beneath it), taking ward and unit sizes in turn.</summary>
    private sealed class Tree(ElectionDefinition def, Random rng, int[] unitsPerWard, int[] voters)
    {
        private int _ward;
        private int _unit;

        public void Area(string code, string name, string level, string? parent) =>
            def.Areas.Add(new AreaDefinition { Code = code, Name = name, Level = level, Parent = parent });

        public void Lga(string code, string name, string parent, int wards)
        {
            Area(code, name, "lga", parent);
            for (var w = 1; w <= wards; w++)
            {
                var wardCode = $"{code}/{w:00}";
                Area(wardCode, $"Ward {w:00}", "ward", code);
                var units = unitsPerWard[_ward++];
                for (var u = 1; u <= units; u++)
                {
                    def.Areas.Add(new AreaDefinition
                    {
                        Code = $"{wardCode}/{u:000}",
                        Name = $"PU {u:000} {Places[rng.Next(Places.Length)]}",
                        Level = "polling-unit",
                        Parent = wardCode,
                        RegisteredVoters = voters[_unit++],
                    });
                }
            }
        }
    }
}
