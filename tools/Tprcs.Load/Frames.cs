using System.Buffers;
using System.Buffers.Binary;

namespace Tprcs.Load;

/// <summary>
/// The server frames of one lean client's non-blocking socket (<see cref="RawClient"/>, the lean
/// storm's clients): each read goes into its loop's shared buffer, or after the start of a frame
/// held from the last read; every whole frame is handed to the caller; what is left of a frame is
/// kept in a pooled buffer until the rest arrives. Server frames are unmasked and never fragmented
/// by the servers this tool measures.
/// </summary>
internal sealed class FrameReader
{
    private const int MinimumHeld = 4096;

    // The start of a frame that had not fully arrived (pooled; null when nothing is held).
    private byte[]? _held;
    private int _length;

    /// <summary>Handles one frame; false when the connection is over and nothing more may be read from this data.</summary>
    public delegate bool FrameHandler(byte opcode, ReadOnlySpan<byte> payload);

    /// <summary>Bytes received before the frames were read (those that came with a handshake's answer).</summary>
    public void Hold(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        _held = ArrayPool<byte>.Shared.Rent(Math.Max(bytes.Length, MinimumHeld));
        bytes.CopyTo(_held);
        _length = bytes.Length;
    }

    /// <summary>The whole frames among the held bytes, without reading: false once the connection is over.</summary>
    public bool HandleHeld(byte[] shared, FrameHandler handler) => _held is null || Frames(_held, _length, shared, handler);

    /// <summary>
    /// One non-blocking read, then every whole frame: false once the connection has ended (the end
    /// of the stream, an error, or the handler said so); true when there was nothing to read.
    /// </summary>
    public bool Read(int fd, byte[] shared, FrameHandler handler)
    {
        byte[] data;
        int length;
        int n;
        if (_held is null)
        {
            n = Epoll.TryReceive(fd, shared);
            (data, length) = (shared, Math.Max(n, 0));
        }
        else
        {
            // Room for the whole of the frame being assembled (a snapshot may be larger than any buffer so far).
            var need = Math.Max(Needed(_held.AsSpan(0, _length)), _length + 1);
            if (need > _held.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(need, _held.Length * 2));
                _held.AsSpan(0, _length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_held);
                _held = bigger;
            }

            n = Epoll.TryReceive(fd, _held.AsSpan(_length));
            _length += Math.Max(n, 0);
            (data, length) = (_held, _length);
        }

        // 0: the end of the stream; -2: an error (reset...); -1: nothing there (EAGAIN).
        if (n is 0 or -2)
        {
            return false;
        }

        return n < 0 || Frames(data, length, shared, handler);
    }

    /// <summary>Gives the held buffer back to the pool (the connection is over).</summary>
    public void Release()
    {
        if (_held is not null)
        {
            ArrayPool<byte>.Shared.Return(_held);
            (_held, _length) = (null, 0);
        }
    }

    private bool Frames(byte[] data, int length, byte[] shared, FrameHandler handler)
    {
        var offset = 0;
        while (TryFrame(data.AsSpan(offset, length - offset), out var opcode, out var payloadStart, out var payloadLength))
        {
            var payload = data.AsSpan(offset + payloadStart, payloadLength);
            offset += payloadStart + payloadLength;
            if (!handler(opcode, payload))
            {
                Release();
                return false;
            }
        }

        var rest = length - offset;
        if (rest == 0)
        {
            Release();
        }
        else if (ReferenceEquals(data, shared))
        {
            _held = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Max(rest, MinimumHeld), Needed(data.AsSpan(offset, rest))));
            data.AsSpan(offset, rest).CopyTo(_held);
            _length = rest;
        }
        else
        {
            data.AsSpan(offset, rest).CopyTo(data);
            _length = rest;
        }

        return true;
    }

    // Server frames: FIN + opcode, unmasked length (7, 16 or 64 bits).
    private static bool TryFrame(ReadOnlySpan<byte> data, out byte opcode, out int payloadStart, out int payloadLength)
    {
        opcode = 0;
        payloadStart = payloadLength = 0;
        var needed = Needed(data);
        if (needed == 0 || needed > data.Length)
        {
            return false;
        }

        opcode = (byte)(data[0] & 0x0F);
        var len7 = data[1] & 0x7F;
        payloadStart = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
        payloadLength = needed - payloadStart;
        return true;
    }

    // Bytes the first frame needs in all (0 when even its header is incomplete).
    private static int Needed(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return 0;
        }

        var len7 = data[1] & 0x7F;
        if (len7 < 126)
        {
            return 2 + len7;
        }

        if (len7 == 126)
        {
            return data.Length < 4 ? 0 : 4 + BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        }

        return data.Length < 10 ? 0 : 10 + (int)BinaryPrimitives.ReadUInt64BigEndian(data[2..]);
    }
}

/// <summary>The lean clients' own frames: masked, whole, small (subscribes, pongs, pings).</summary>
internal static class ClientFrame
{
    /// <summary>The largest payload <see cref="Write"/> takes.</summary>
    public const int MaxPayload = 256;

    /// <summary>The largest frame <see cref="Write"/> makes (header, mask and <see cref="MaxPayload"/>).</summary>
    public const int MaxLength = 8 + MaxPayload;

    /// <summary>Writes one masked frame into <paramref name="frame"/> (at least <see cref="MaxLength"/> bytes) and returns its length.</summary>
    public static int Write(Span<byte> frame, byte opcode, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload)
        {
            throw new ArgumentException($"client frames of this tool are at most {MaxPayload} bytes", nameof(payload));
        }

        var header = payload.Length < 126 ? 6 : 8;
        frame[0] = (byte)(0x80 | opcode);
        if (payload.Length < 126)
        {
            frame[1] = (byte)(0x80 | payload.Length);
        }
        else
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame[2..], (ushort)payload.Length);
        }

        var mask = frame.Slice(header - 4, 4);
        Random.Shared.NextBytes(mask);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[header + i] = (byte)(payload[i] ^ mask[i & 3]);
        }

        return header + payload.Length;
    }
}
