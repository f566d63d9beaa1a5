using System.Text.Json.Nodes;

namespace Tprcs.Tests.Gateway;

/// <summary>A test-side copy of a feed document that applies protocol messages and checks their invariants.</summary>
public sealed class FeedDoc
{
    private readonly Dictionary<string, JsonObject> _rows = new(StringComparer.Ordinal);

    public FeedDoc(JsonObject snapshot)
    {
        Assert.Equal("snapshot", (string?)snapshot["type"]);
        var doc = snapshot["doc"]!.AsObject();
        Epoch = (string)snapshot["epoch"]!;
        Seq = (long)snapshot["seq"]!;
        Totals = doc["totals"]!.DeepClone().AsObject();
        foreach (var row in doc["rows"]!.AsArray())
        {
            _rows[(string)row!["code"]!] = row.DeepClone().AsObject();
        }

        AssertConsistent();
    }

    public string Epoch { get; }
    public long Seq { get; private set; }
    public JsonObject Totals { get; private set; }
    public JsonObject Row(string code) => _rows[code];

    public void Apply(JsonObject delta)
    {
        Assert.Equal("delta", (string?)delta["type"]);
        Assert.Equal(Epoch, (string?)delta["epoch"]);
        Assert.Equal(Seq + 1, (long)delta["seq"]!);
        foreach (var row in delta["rows"]!.AsArray())
        {
            var code = (string)row!["code"]!;
            Assert.True(_rows.ContainsKey(code), $"delta row {code} is not a child of the feed");
            _rows[code] = row.DeepClone().AsObject();
        }

        Seq = (long)delta["seq"]!;
        Totals = delta["totals"]!.DeepClone().AsObject();
        AssertConsistent();
    }

    /// <summary>Every number of the totals equals the sum of that number over the rows.</summary>
    public void AssertConsistent()
    {
        foreach (var (path, value) in Numbers(Totals, ""))
        {
            var sum = _rows.Values.Sum(r => Numbers(r["tally"]!.AsObject(), "").Single(n => n.Path == path).Value);
            Assert.True(sum == value, $"totals.{path} = {value} but the rows add up to {sum}");
        }
    }

    private static IEnumerable<(string Path, long Value)> Numbers(JsonNode node, string path)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                {
                    foreach (var n in Numbers(v!, path.Length == 0 ? k : $"{path}.{k}"))
                    {
                        yield return n;
                    }
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    foreach (var n in Numbers(a[i]!, $"{path}[{i}]"))
                    {
                        yield return n;
                    }
                }

                break;
            case JsonValue v when v.TryGetValue<long>(out var l):
                yield return (path, l);
                break;
        }
    }
}
