using System.Text.Json;
using System.Text.Json.Serialization;
using Tprcs.Gateway.Api;

namespace Tprcs.Gateway.Feeds;

// The WebSocket protocol's messages (docs/protocol.md). Every server message is one JSON object in
// one text frame, with a "type" field first.

public sealed record HelloMessage(string Type, string Protocol, string Node, int HeartbeatMs, int RetryWindowMs, string[] Gateways);

public sealed record SubscribedMessage(string Type, string Feed, string Mode, string Epoch, long Seq);

public sealed record SnapshotMessage(string Type, string Feed, string Epoch, long Seq, AreaDocJson Doc);

public sealed record DeltaMessage(
    string Type,
    string Feed,
    string Epoch,
    long Seq,
    long Version,
    TallyJson Totals,
    RowJson[] Rows,
    DateTimeOffset UpdatedAt);

public sealed record ErrorMessage(string Type, string? Feed, string Code, string Message, int? RetryAfterMs = null);

public sealed record HeartbeatMessage(string Type, long Time, int? RetryWindowMs = null);

public sealed record DrainMessage(string Type, int RetryAfterMs, string Reason);

public sealed record UnsubscribedMessage(string Type, string Feed);

/// <summary>What a client sends: subscribe, unsubscribe, ping.</summary>
public sealed class ClientMessage
{
    public string? Type { get; set; }
    public string? Feed { get; set; }
    public ResumePosition? Resume { get; set; }
}

public sealed class ResumePosition
{
    public string? Epoch { get; set; }
    public long? Seq { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(SubscribedMessage))]
[JsonSerializable(typeof(SnapshotMessage))]
[JsonSerializable(typeof(DeltaMessage))]
[JsonSerializable(typeof(ErrorMessage))]
[JsonSerializable(typeof(HeartbeatMessage))]
[JsonSerializable(typeof(DrainMessage))]
[JsonSerializable(typeof(UnsubscribedMessage))]
[JsonSerializable(typeof(ClientMessage))]
public sealed partial class FeedJsonContext : JsonSerializerContext;

public enum OutKind
{
    Control = 0,
    Snapshot = 1,
    Delta = 2,
}

/// <summary>A serialized server message. Feed messages carry their position so that the writer can keep each feed continuous.</summary>
public sealed record OutMessage(OutKind Kind, string? Feed, string? Epoch, long Seq, byte[] Bytes)
{
    public static OutMessage Control<T>(T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        new(OutKind.Control, null, null, 0, JsonSerializer.SerializeToUtf8Bytes(message, type));
}
