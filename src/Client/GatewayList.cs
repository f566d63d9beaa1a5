using System.Text.Json;

namespace Tprcs.Client;

/// <summary>The gateway URLs a worker rotates across: the configured ones, then those nodes announce in <c>hello</c>.</summary>
internal sealed class GatewayList
{
    private readonly object _gate = new();
    private readonly List<Uri> _urls = [];
    private int _index;

    public GatewayList(IEnumerable<Uri> configured)
    {
        foreach (var url in configured)
        {
            Add(Normalize(url) ?? throw new ArgumentException($"'{url}' is not an absolute ws, wss, http or https URL.", nameof(configured)));
        }
    }

    public Uri Current
    {
        get
        {
            lock (_gate)
            {
                return _urls[_index % _urls.Count];
            }
        }
    }

    public IReadOnlyList<Uri> All
    {
        get
        {
            lock (_gate)
            {
                return [.. _urls];
            }
        }
    }

    /// <summary>How long a URL that refused the connection itself (no HTTP answer) is skipped while others are known.</summary>
    public static readonly TimeSpan UnreachableFor = TimeSpan.FromSeconds(10);

    private readonly Dictionary<Uri, DateTimeOffset> _unreachableUntil = [];

    /// <summary>
    /// Another URL, chosen at random among the others: when a node dies, its clients spread over
    /// the surviving nodes instead of all moving to the one listed next. URLs that refused a
    /// connection within <see cref="UnreachableFor"/> are skipped while another one is left.
    /// </summary>
    public Uri Advance(DateTimeOffset now = default)
    {
        lock (_gate)
        {
            if (_urls.Count > 1)
            {
                var others = new List<int>(_urls.Count - 1);
                for (var i = 1; i < _urls.Count; i++)
                {
                    var candidate = (_index + i) % _urls.Count;
                    if (!(_unreachableUntil.TryGetValue(_urls[candidate], out var until) && until > now))
                    {
                        others.Add(candidate);
                    }
                }

                _index = others.Count > 0
                    ? others[Random.Shared.Next(others.Count)]
                    : (_index + 1 + Random.Shared.Next(_urls.Count - 1)) % _urls.Count;
            }

            return _urls[_index];
        }
    }

    /// <summary>Notes that <paramref name="url"/> refused a connection at <paramref name="now"/> (a dead or restarting node).</summary>
    public void MarkUnreachable(Uri url, DateTimeOffset now)
    {
        lock (_gate)
        {
            _unreachableUntil[url] = now + UnreachableFor;
        }
    }

    /// <summary>The next URL that is not <paramref name="avoid"/> (a draining node), when there is one.</summary>
    public Uri MoveAwayFrom(Uri avoid)
    {
        lock (_gate)
        {
            for (var i = 1; i <= _urls.Count; i++)
            {
                var candidate = (_index + i) % _urls.Count;
                if (_urls[candidate] != avoid || i == _urls.Count)
                {
                    _index = candidate;
                    break;
                }
            }

            return _urls[_index];
        }
    }

    /// <summary>Adds the URLs of a <c>hello</c>'s <c>gateways</c> (strings, or objects with a <c>url</c>); returns how many were new.</summary>
    public int Merge(JsonElement gateways)
    {
        if (gateways.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }

        var added = 0;
        foreach (var item in gateways.EnumerateArray())
        {
            var text = item.ValueKind switch
            {
                JsonValueKind.String => item.GetString(),
                JsonValueKind.Object when item.TryGetProperty("url", out var url) && url.ValueKind == JsonValueKind.String => url.GetString(),
                _ => null,
            };
            if (text is not null && Uri.TryCreate(text, UriKind.Absolute, out var uri) && Normalize(uri) is { } normalized && Add(normalized))
            {
                added++;
            }
        }

        return added;
    }

    private bool Add(Uri url)
    {
        lock (_gate)
        {
            if (_urls.Contains(url))
            {
                return false;
            }

            _urls.Add(url);
            return true;
        }
    }

    /// <summary>ws/wss URL of the feed endpoint: http(s) becomes ws(s), an empty path becomes <c>/ws</c>.</summary>
    internal static Uri? Normalize(Uri url)
    {
        if (!url.IsAbsoluteUri)
        {
            return null;
        }

        var scheme = url.Scheme.ToLowerInvariant() switch
        {
            "ws" or "http" => "ws",
            "wss" or "https" => "wss",
            _ => null,
        };
        if (scheme is null || url.Port == 0)
        {
            return null;
        }

        var builder = new UriBuilder(url) { Scheme = scheme, Port = url.IsDefaultPort ? -1 : url.Port };
        if (builder.Path is "" or "/")
        {
            builder.Path = "/ws";
        }

        return builder.Uri;
    }
}
