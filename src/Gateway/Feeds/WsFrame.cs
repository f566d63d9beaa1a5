using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Tprcs.Gateway.Feeds;

/// <summary>
/// WebSocket framing (RFC 6455, section 5) for the gateway's own transport: server frames are
/// built once and never masked; client frames are parsed, checked and unmasked.
/// </summary>
public static class WsFrame
{
    public const byte Continuation = 0x0;
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    private const byte FinBit = 0x80;
    private const byte MaskBit = 0x80;

    /// <summary>Control frames (close, ping, pong) carry at most this many payload bytes.</summary>
    public const int MaxControlPayload = 125;

    public static int HeaderLength(int payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    /// <summary>One final, unmasked frame with the payload copied after its header.</summary>
    public static byte[] Build(byte opcode, ReadOnlySpan<byte> payload, out int headerLength)
    {
        headerLength = HeaderLength(payload.Length);
        var frame = new byte[headerLength + payload.Length];
        frame[0] = (byte)(FinBit | opcode);
        if (payload.Length < 126)
        {
            frame[1] = (byte)payload.Length;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }
        else
        {
            frame[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        }

        payload.CopyTo(frame.AsSpan(headerLength));
        return frame;
    }

    /// <summary>A close frame: the status code, then the reason in UTF-8 cut to fit a control frame.</summary>
    public static byte[] BuildClose(int code, string? reason)
    {
        Span<byte> payload = stackalloc byte[MaxControlPayload];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        var length = 2;
        if (!string.IsNullOrEmpty(reason))
        {
            var bytes = Encoding.UTF8.GetBytes(reason);
            var take = Math.Min(bytes.Length, MaxControlPayload - 2);
            bytes.AsSpan(0, take).CopyTo(payload[2..]);
            length += take;
        }

        return Build(Close, payload[..length], out _);
    }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value for a client's <c>Sec-WebSocket-Key</c>.</summary>
    public static string AcceptKey(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key.Trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

    /// <summary>What <see cref="TryParse"/> found at the start of the buffer.</summary>
    public enum ParseStatus
    {
        /// <summary>A whole frame: <c>header</c> and <c>payload</c> are set.</summary>
        Frame,
        /// <summary>Not enough bytes yet.</summary>
        NeedMore,
        /// <summary>The payload is longer than the caller allows.</summary>
        TooBig,
        /// <summary>The bytes break the protocol: reserved bits, an unmasked client frame, a bad control frame, an unknown opcode.</summary>
        ProtocolError,
    }

    /// <summary>
    /// A status code a peer may send in a close frame (RFC 6455 7.4 and the IANA registry): 1000–1003,
    /// 1007–1014 and the ranges 3000–4999; never 1004, 1005, 1006 or 1015, which are reserved, nor
    /// another unassigned one.
    /// </summary>
    public static bool IsValidCloseCode(int code) => code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    public readonly record struct Header(bool Fin, byte Opcode, int PayloadLength, uint MaskKey, int Length);

    /// <summary>
    /// Reads one client frame from the start of <paramref name="buffer"/>. Client frames must be
    /// masked; data payloads may be at most <paramref name="maxPayload"/> bytes, control payloads 125.
    /// </summary>
    public static ParseStatus TryParse(in ReadOnlySequence<byte> buffer, int maxPayload, out Header header, out ReadOnlySequence<byte> payload)
    {
        header = default;
        payload = default;
        if (buffer.Length < 2)
        {
            return ParseStatus.NeedMore;
        }

        Span<byte> head = stackalloc byte[14];
        var have = (int)Math.Min(14, buffer.Length);
        buffer.Slice(0, have).CopyTo(head);
        var fin = (head[0] & FinBit) != 0;
        var opcode = (byte)(head[0] & 0x0F);
        if ((head[0] & 0x70) != 0 || (head[1] & MaskBit) == 0)
        {
            return ParseStatus.ProtocolError;
        }

        var control = opcode >= Close;
        if (opcode is not (Continuation or Text or Binary or Close or Ping or Pong) || (control && !fin))
        {
            return ParseStatus.ProtocolError;
        }

        long length = head[1] & 0x7F;
        var offset = 2;
        if (length == 126)
        {
            if (have < 4)
            {
                return ParseStatus.NeedMore;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(head[2..]);
            offset = 4;
        }
        else if (length == 127)
        {
            if (have < 10)
            {
                return ParseStatus.NeedMore;
            }

            var big = BinaryPrimitives.ReadUInt64BigEndian(head[2..]);
            length = big > long.MaxValue ? long.MaxValue : (long)big;
            offset = 10;
        }

        if (control && length > MaxControlPayload)
        {
            return ParseStatus.ProtocolError;
        }

        if (!control && length > maxPayload)
        {
            return ParseStatus.TooBig;
        }

        if (have < offset + 4)
        {
            return ParseStatus.NeedMore;
        }

        var mask = BinaryPrimitives.ReadUInt32LittleEndian(head[offset..]);
        offset += 4;
        if (buffer.Length < offset + length)
        {
            return ParseStatus.NeedMore;
        }

        header = new Header(fin, opcode, (int)length, mask, offset + (int)length);
        payload = buffer.Slice(offset, length);
        return ParseStatus.Frame;
    }

    /// <summary>Copies a masked payload into <paramref name="destination"/>, unmasking it.</summary>
    public static void Unmask(in ReadOnlySequence<byte> payload, uint maskKey, Span<byte> destination)
    {
        payload.CopyTo(destination);
        Span<byte> key = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(key, maskKey);
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] ^= key[i & 3];
        }
    }
}
