using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tprcs.Client;

// The messages of tprcs.v1 as they travel (docs/protocol.md, "Messages"). One class holds every
// server message's fields, all optional: one parse per frame, and a message of a newer server with
// more fields still parses.

internal sealed class ServerMessage
{
    public string? Type { get; set; }
    public string? Feed { get; set; }

    // subscribed, snapshot, delta
    public string? Mode { get; set; }
    public string? Epoch { get; set; }
    public long? Seq { get; set; }
    public long? Version { get; set; }
    public Tally? Totals { get; set; }
    public ImmutableArray<FeedRow>? Rows { get; set; }
    public DateTimeOffset? UpdatedAt { get; set; }
    public FeedDocument? Doc { get; set; }

    // hello, heartbeat, pong
    public string? Protocol { get; set; }
    public string? Node { get; set; }
    public long? HeartbeatMs { get; set; }
    public long? RetryWindowMs { get; set; }
    public JsonElement? Gateways { get; set; }
    public long? Time { get; set; }

    // drain, error
    public long? RetryAfterMs { get; set; }
    public string? Reason { get; set; }
    public string? Code { get; set; }
    public string? Message { get; set; }
}

internal sealed class ClientMessage
{
    public required string Type { get; init; }
    public string? Feed { get; init; }
    public ResumeJson? Resume { get; init; }
}

internal sealed record ResumeJson(string Epoch, long Seq);

[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ServerMessage))]
[JsonSerializable(typeof(ClientMessage))]
[JsonSerializable(typeof(FeedDocument))]
[JsonSerializable(typeof(FeedDelta))]
internal sealed partial class TprcsJsonContext : JsonSerializerContext;

/// <summary>Server retry hints (docs/protocol.md, "Reconnecting"): <c>Retry-After</c> of a 503, close reason <c>retry-after:N</c>.</summary>
public static class RetryHints
{
    /// <summary>The wait a close reason <c>retry-after:N</c> (N in milliseconds) asks for, or null.</summary>
    public static TimeSpan? FromCloseReason(string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            return null;
        }

        var text = reason.Trim();
        const string prefix = "retry-after";
        if (!text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        text = text[prefix.Length..].TrimStart();
        if (text.Length == 0 || (text[0] != ':' && text[0] != '='))
        {
            return null;
        }

        return long.TryParse(text[1..].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            ? TimeSpan.FromMilliseconds(ms)
            : null;
    }

    /// <summary>The wait an HTTP <c>Retry-After</c> value asks for: delta seconds, or an HTTP date relative to <paramref name="now"/>; null when absent or unreadable.</summary>
    public static TimeSpan? FromRetryAfter(string? value, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var text = value.Trim();
        if (double.TryParse(text, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AllowWhiteSpaces, out var at))
        {
            var wait = at - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>The <c>Retry-After</c> of response headers (as <see cref="System.Net.WebSockets.ClientWebSocket.HttpResponseHeaders"/> gives them), or null.</summary>
    public static TimeSpan? FromRetryAfter(IReadOnlyDictionary<string, IEnumerable<string>>? headers, DateTimeOffset now)
    {
        if (headers is null)
        {
            return null;
        }

        foreach (var (name, values) in headers)
        {
            if (string.Equals(name, "Retry-After", StringComparison.OrdinalIgnoreCase))
            {
                return FromRetryAfter(values.FirstOrDefault(), now);
            }
        }

        return null;
    }
}
