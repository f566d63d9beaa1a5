using Tprcs.Grains.Elections;

namespace Tprcs.Tests.Elections;

/// <summary>A hand-written election small enough to reason about: 2 LGAs, 3 wards, 4 units, 1,112 voters.</summary>
internal static class SmallElection
{
    public const string Json = """
        {
          // comments and trailing commas are accepted in hand-written files
          "id": "edo-2024-gov",
          "name": "Edo governorship election 2024",
          "contest": "governorship",
          "levels": ["state", "lga", "ward", "polling-unit"],
          "parties": [
            {"code": "APC", "name": "All Progressives Congress"},
            {"code": "PDP", "name": "Peoples Democratic Party"},
            {"code": "LP", "name": "Labour Party"},
          ],
          "areas": [
            {"code": "ED", "name": "Edo", "level": "state", "parent": null},
            {"code": "ED/01", "name": "Akoko-Edo", "level": "lga", "parent": "ED"},
            {"code": "ED/01/01", "name": "Ward 01", "level": "ward", "parent": "ED/01"},
            {"code": "ED/01/01/001", "name": "PU 001 Primary School", "level": "polling-unit", "parent": "ED/01/01", "registeredVoters": 512},
            {"code": "ED/01/01/002", "name": "PU 002 Town Hall", "level": "polling-unit", "parent": "ED/01/01", "registeredVoters": 300},
            {"code": "ED/01/02", "name": "Ward 02", "level": "ward", "parent": "ED/01"},
            {"code": "ED/01/02/001", "name": "PU 001 Market Square", "level": "polling-unit", "parent": "ED/01/02", "registeredVoters": 200},
            {"code": "ED/02", "name": "Egor", "level": "lga", "parent": "ED"},
            {"code": "ED/02/01", "name": "Ward 01", "level": "ward", "parent": "ED/02"},
            {"code": "ED/02/01/001", "name": "PU 001 Health Centre", "level": "polling-unit", "parent": "ED/02/01", "registeredVoters": 100},
          ],
        }
        """;

    public const long RegisteredVoters = 1_112;

    /// <summary>A fresh copy each time, so that a test can break it freely.</summary>
    public static ElectionDefinition Definition() => ElectionLoader.ParseJson(Json);

    public static AreaDefinition Area(this ElectionDefinition def, string code) => def.Areas.Single(a => a.Code == code);

    public static AreaDefinition Unit(string code, string parent, long? voters = 100) =>
        new() { Code = code, Name = $"PU {code}", Level = "polling-unit", Parent = parent, RegisteredVoters = voters };

    public static AreaDefinition Ward(string code, string parent) =>
        new() { Code = code, Name = $"Ward {code}", Level = "ward", Parent = parent };
}
