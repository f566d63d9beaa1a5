namespace Tprcs.Contracts;

/// <summary>
/// Grain and stream keys. An election id never contains '/', so "{election}/{code}" splits on the
/// first '/' even when area codes contain slashes (they usually do: "ED/01/03/002").
/// </summary>
public static class Keys
{
    /// <summary>Name of the stream provider (and its PubSubStore) on silos and clients.</summary>
    public const string StreamProvider = "feeds";

    /// <summary>Stream namespace of area feeds.</summary>
    public const string FeedNamespace = "area-feed";

    public static string Compose(string electionId, string code) => $"{electionId}/{code}";

    public static (string ElectionId, string Code) Split(string key)
    {
        var slash = key.IndexOf('/');
        if (slash <= 0 || slash == key.Length - 1)
        {
            throw new ArgumentException($"Key '{key}' is not of the form election/code.", nameof(key));
        }

        return (key[..slash], key[(slash + 1)..]);
    }
}
