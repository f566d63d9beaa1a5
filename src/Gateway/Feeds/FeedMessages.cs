using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Json.Serialization;
using Tprcs.Gateway.Api;

namespace Tprcs.Gateway.Feeds;

// The WebSocket protocol's messages (docs/protocol.md). Every server message is one JSON object in
// one text frame, with a "type" field first.

public sealed record HelloMessage(string Type, string Protocol, string Node, int HeartbeatMs, int RetryWindowMs, string[] Gateways);

public sealed record SubscribedMessage(string Type, string Feed, string Mode, string Epoch, long Seq);

public sealed record SnapshotMessage(string Type, string Feed, string Epoch, long Seq, AreaDocJson Doc);

// The small fields come first, so that a client can route and time a delta before it reads the rows.
public sealed record DeltaMessage(
    string Type,
    string Feed,
    string Epoch,
    long Seq,
    long Version,
    DateTimeOffset UpdatedAt,
    TallyJson Totals,
    RowJson[] Rows);

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

/// <summary>
/// A server message, serialized once and framed once: <see cref="Frame"/> is the whole WebSocket
/// frame (header and payload). Server frames are not masked, so the same bytes go to every client.
/// Feed messages carry their position so that the writer can keep each feed continuous.
/// </summary>
public sealed class OutMessage
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    private OutMessage(OutKind kind, string? feed, string? epoch, long seq, byte[] frame, int headerLength)
    {
        Kind = kind;
        Feed = feed;
        Epoch = epoch;
        Seq = seq;
        Frame = frame;
        HeaderLength = headerLength;
    }

    public OutKind Kind { get; }
    public string? Feed { get; }
    public string? Epoch { get; }
    public long Seq { get; }

    /// <summary>The whole WebSocket frame: header, then payload.</summary>
    public byte[] Frame { get; }

    public int HeaderLength { get; }

    /// <summary>The message itself (a text message's UTF-8 JSON), for transports that frame on their own.</summary>
    public ReadOnlyMemory<byte> Payload => Frame.AsMemory(HeaderLength);

    /// <summary>True for the protocol's JSON messages; false for WebSocket control frames (pong).</summary>
    public bool IsText => (Frame[0] & 0x0F) == WsFrame.Text;

    /// <summary>Bytes this message takes on the wire and in a send queue.</summary>
    public int Length => Frame.Length;

    public static OutMessage Json<T>(OutKind kind, string? feed, string? epoch, long seq, T message, JsonTypeInfo<T> type)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(writer, message, type);
        }

        var frame = WsFrame.Build(WsFrame.Text, buffer.WrittenSpan, out var header);
        if (buffer.Capacity > 1024 * 1024)
        {
            // One huge snapshot must not pin its buffer on this thread for good.
            t_buffer = null;
        }

        return new OutMessage(kind, feed, epoch, seq, frame, header);
    }

    public static OutMessage Control<T>(T message, JsonTypeInfo<T> type) => Json(OutKind.Control, null, null, 0, message, type);

    /// <summary>A WebSocket control frame (pong) that only a transport framing on its own sends.</summary>
    public static OutMessage ControlFrame(byte opcode, ReadOnlySpan<byte> payload) =>
        new(OutKind.Control, null, null, 0, WsFrame.Build(opcode, payload, out var header), header);
}
