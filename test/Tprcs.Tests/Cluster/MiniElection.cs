namespace Tprcs.Tests.Cluster;

/// <summary>A tiny election definition written to a file, to load beside the Edo sample.</summary>
public static class MiniElection
{
    public const string Id = "mini-test";

    public static string Json => """
        {
          "id": "mini-test", "name": "Mini", "contest": "test",
          "levels": ["country", "region", "district", "station"],
          "parties": [{"code": "P1", "name": "Party One"}, {"code": "P2", "name": "Party Two"}],
          "areas": [
            {"code": "X", "name": "X", "level": "country", "parent": null},
            {"code": "X/1", "name": "R1", "level": "region", "parent": "X"},
            {"code": "X/1/1", "name": "D1", "level": "district", "parent": "X/1"},
            {"code": "X/1/1/1", "name": "S1", "level": "station", "parent": "X/1/1", "registeredVoters": 300},
            {"code": "X/1/1/2", "name": "S2", "level": "station", "parent": "X/1/1", "registeredVoters": 200}
          ]
        }
        """;

    public static string WriteTo(string directory)
    {
        var path = Path.Combine(directory, "mini-test.json");
        File.WriteAllText(path, Json);
        return path;
    }
}
