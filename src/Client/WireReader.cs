using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Tprcs.Client;

/// <summary>
/// Reads one server message (a text frame's UTF-8 JSON) straight into the SDK's records with a
/// <see cref="Utf8JsonReader"/>. It reads what <see cref="TprcsJsonContext"/> reads, with the same
/// rules (web defaults: camelCase names matched case-insensitively, numbers also from strings;
/// required fields, nulls refused where the records do not allow them, unknown fields skipped), at a
/// fraction of the cost: the serializer's constructor-based converters box every figure of every
/// tally, and a client receives a tally per row of every update.
/// </summary>
/// <remarks>Malformed input throws <see cref="JsonException"/>, as the serializer does.</remarks>
internal static class WireReader
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = 64 };

    /// <summary>The message, or null for a JSON <c>null</c>. Anything malformed throws <see cref="JsonException"/>.</summary>
    public static ServerMessage? Read(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return ReadOne(utf8);
        }
        catch (InvalidOperationException ex)
        {
            // The reader's GetString refuses an escaped lone surrogate this way; the serializer said JsonException.
            throw new JsonException(ex.Message, ex);
        }
    }

    private static ServerMessage? ReadOne(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, Options);
        if (!reader.Read())
        {
            throw new JsonException("The message is empty.");
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            End(ref reader);
            return null;
        }

        var m = ReadMessage(ref reader);
        End(ref reader);
        return m;
    }

    // Nothing but white space may follow the message (the reader throws on a second value).
    private static void End(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw new JsonException("Unexpected content after the message.");
        }
    }

    private static ServerMessage ReadMessage(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject, "message");
        var m = new ServerMessage();
        while (NextProperty(ref reader))
        {
            if (Is(ref reader, "type"u8)) { m.Type = NullableString(ref reader); }
            else if (Is(ref reader, "feed"u8)) { m.Feed = NullableString(ref reader); }
            else if (Is(ref reader, "epoch"u8)) { m.Epoch = NullableString(ref reader); }
            else if (Is(ref reader, "seq"u8)) { m.Seq = NullableInt64(ref reader, "seq"); }
            else if (Is(ref reader, "version"u8)) { m.Version = NullableInt64(ref reader, "version"); }
            else if (Is(ref reader, "updatedAt"u8)) { m.UpdatedAt = NullableDate(ref reader, "updatedAt"); }
            else if (Is(ref reader, "totals"u8)) { m.Totals = Value(ref reader) ? ReadTally(ref reader) : null; }
            else if (Is(ref reader, "rows"u8)) { m.Rows = Value(ref reader) ? ReadRows(ref reader) : null; }
            else if (Is(ref reader, "doc"u8)) { m.Doc = Value(ref reader) ? ReadDocument(ref reader) : null; }
            else if (Is(ref reader, "mode"u8)) { m.Mode = NullableString(ref reader); }
            else if (Is(ref reader, "protocol"u8)) { m.Protocol = NullableString(ref reader); }
            else if (Is(ref reader, "node"u8)) { m.Node = NullableString(ref reader); }
            else if (Is(ref reader, "heartbeatMs"u8)) { m.HeartbeatMs = NullableInt64(ref reader, "heartbeatMs"); }
            else if (Is(ref reader, "retryWindowMs"u8)) { m.RetryWindowMs = NullableInt64(ref reader, "retryWindowMs"); }
            else if (Is(ref reader, "gateways"u8)) { m.Gateways = Value(ref reader) ? JsonElement.ParseValue(ref reader) : null; }
            else if (Is(ref reader, "time"u8)) { m.Time = NullableInt64(ref reader, "time"); }
            else if (Is(ref reader, "retryAfterMs"u8)) { m.RetryAfterMs = NullableInt64(ref reader, "retryAfterMs"); }
            else if (Is(ref reader, "reason"u8)) { m.Reason = NullableString(ref reader); }
            else if (Is(ref reader, "code"u8)) { m.Code = NullableString(ref reader); }
            else if (Is(ref reader, "message"u8)) { m.Message = NullableString(ref reader); }
            else { Skip(ref reader); }
        }

        return m;
    }

    /// <summary>A whole document (<c>doc</c> of a snapshot).</summary>
    public static FeedDocument ReadDocument(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject, "doc");
        string? electionId = null, childLevel = null, epoch = null;
        AreaInfo? area = null;
        ImmutableArray<string>? parties = null;
        long? seq = null, version = null;
        Tally? totals = null;
        ImmutableArray<FeedRow>? rows = null;
        DateTimeOffset? updatedAt = null;
        bool? atRisk = null;
        while (NextProperty(ref reader))
        {
            if (Is(ref reader, "electionId"u8)) { electionId = RequiredString(ref reader, "doc.electionId"); }
            else if (Is(ref reader, "area"u8)) { area = ReadArea(ref reader); }
            else if (Is(ref reader, "childLevel"u8)) { childLevel = RequiredString(ref reader, "doc.childLevel"); }
            else if (Is(ref reader, "parties"u8)) { parties = ReadStrings(ref reader, "doc.parties"); }
            else if (Is(ref reader, "epoch"u8)) { epoch = RequiredString(ref reader, "doc.epoch"); }
            else if (Is(ref reader, "seq"u8)) { seq = Int64(ref reader, "doc.seq"); }
            else if (Is(ref reader, "version"u8)) { version = Int64(ref reader, "doc.version"); }
            else if (Is(ref reader, "totals"u8)) { totals = ReadTally(ref reader); }
            else if (Is(ref reader, "rows"u8)) { rows = ReadRows(ref reader); }
            else if (Is(ref reader, "updatedAt"u8)) { updatedAt = Date(ref reader, "doc.updatedAt"); }
            else if (Is(ref reader, "atRisk"u8)) { atRisk = Boolean(ref reader, "doc.atRisk"); }
            else { Skip(ref reader); }
        }

        return new FeedDocument(
            electionId ?? throw Missing("doc.electionId"),
            area ?? throw Missing("doc.area"),
            childLevel ?? throw Missing("doc.childLevel"),
            parties ?? throw Missing("doc.parties"),
            epoch ?? throw Missing("doc.epoch"),
            seq ?? throw Missing("doc.seq"),
            version ?? throw Missing("doc.version"),
            totals ?? throw Missing("doc.totals"),
            rows ?? throw Missing("doc.rows"),
            updatedAt ?? throw Missing("doc.updatedAt"),
            atRisk ?? throw Missing("doc.atRisk"));
    }

    private static AreaInfo ReadArea(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject, "doc.area");
        string? code = null, name = null, level = null, parent = null;
        long? registered = null;
        while (NextProperty(ref reader))
        {
            if (Is(ref reader, "code"u8)) { code = RequiredString(ref reader, "area.code"); }
            else if (Is(ref reader, "name"u8)) { name = RequiredString(ref reader, "area.name"); }
            else if (Is(ref reader, "level"u8)) { level = RequiredString(ref reader, "area.level"); }
            else if (Is(ref reader, "registeredVoters"u8)) { registered = Int64(ref reader, "area.registeredVoters"); }
            else if (Is(ref reader, "parent"u8)) { parent = NullableString(ref reader); }
            else { Skip(ref reader); }
        }

        return new AreaInfo(
            code ?? throw Missing("area.code"),
            name ?? throw Missing("area.name"),
            level ?? throw Missing("area.level"),
            registered ?? throw Missing("area.registeredVoters"),
            parent);
    }

    private static ImmutableArray<FeedRow> ReadRows(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartArray, "rows");
        FeedRow? first = null;
        List<FeedRow>? more = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var row = ReadRow(ref reader);
            if (first is null)
            {
                first = row;
            }
            else
            {
                (more ??= [first]).Add(row);
            }
        }

        // A delta usually carries one row: no list for it.
        return more is not null ? [.. more] : first is not null ? [first] : [];
    }

    private static FeedRow ReadRow(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject, "rows[]");
        string? code = null, name = null, status = null;
        long? version = null;
        Tally? tally = null;
        while (NextProperty(ref reader))
        {
            if (Is(ref reader, "code"u8)) { code = RequiredString(ref reader, "row.code"); }
            else if (Is(ref reader, "name"u8)) { name = RequiredString(ref reader, "row.name"); }
            else if (Is(ref reader, "version"u8)) { version = Int64(ref reader, "row.version"); }
            else if (Is(ref reader, "tally"u8)) { tally = ReadTally(ref reader); }
            else if (Is(ref reader, "status"u8)) { status = NullableString(ref reader); }
            else { Skip(ref reader); }
        }

        return new FeedRow(
            code ?? throw Missing("row.code"),
            name ?? throw Missing("row.name"),
            version ?? throw Missing("row.version"),
            tally ?? throw Missing("row.tally"),
            status);
    }

    private static Tally ReadTally(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject, "tally");
        ImmutableArray<long>? votes = null;
        long? registered = null, accredited = null, rejected = null, valid = null, cast = null, covered = null, cancelled = null;
        UnitCounts? units = null;
        FlagCounts? flags = null;
        while (NextProperty(ref reader))
        {
            if (Is(ref reader, "votes"u8)) { votes = ReadInt64s(ref reader, "tally.votes"); }
            else if (Is(ref reader, "registeredVoters"u8)) { registered = Int64(ref reader, "tally.registeredVoters"); }
            else if (Is(ref reader, "accreditedVoters"u8)) { accredited = Int64(ref reader, "tally.accreditedVoters"); }
            else if (Is(ref reader, "rejected"u8)) { rejected = Int64(ref reader, "tally.rejected"); }
            else if (Is(ref reader, "totalValid"u8)) { valid = Int64(ref reader, "tally.totalValid"); }
            else if (Is(ref reader, "totalCast"u8)) { cast = Int64(ref reader, "tally.totalCast"); }
            else if (Is(ref reader, "units"u8)) { units = ReadUnits(ref reader); }
            else if (Is(ref reader, "registeredCovered"u8)) { covered = Int64(ref reader, "tally.registeredCovered"); }
            else if (Is(ref reader, "registeredCancelled"u8)) { cancelled = Int64(ref reader, "tally.registeredCancelled"); }
            else if (Is(ref reader, "flags"u8)) { flags = ReadFlags(ref reader); }
            else { Skip(ref reader); }
        }

        return new Tally(
            votes ?? throw Missing("tally.votes"),
            registered ?? throw Missing("tally.registeredVoters"),
            accredited ?? throw Missing("tally.accreditedVoters"),
            rejected ?? throw Missing("tally.rejected"),
            valid ?? throw Missing("tally.totalValid"),
            cast ?? throw Missing("tally.totalCast"),
            units ?? throw Missing("tally.units"),
            covered ?? throw Missing("tally.registeredCovered"),
            cancelled ?? throw Missing("tally.registeredCancelled"),
            flags ?? throw Missing("tally.flags"));
    }

    private static UnitCounts ReadUnits(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject, "tally.units");
        long? total = null, reported = null, counted = null, cancelled = null;
        while (NextProperty(ref reader))
        {
            if (Is(ref reader, "total"u8)) { total = Int64(ref reader, "units.total"); }
            else if (Is(ref reader, "reported"u8)) { reported = Int64(ref reader, "units.reported"); }
            else if (Is(ref reader, "counted"u8)) { counted = Int64(ref reader, "units.counted"); }
            else if (Is(ref reader, "cancelled"u8)) { cancelled = Int64(ref reader, "units.cancelled"); }
            else { Skip(ref reader); }
        }

        return new UnitCounts(
            total ?? throw Missing("units.total"),
            reported ?? throw Missing("units.reported"),
            counted ?? throw Missing("units.counted"),
            cancelled ?? throw Missing("units.cancelled"));
    }

    private static FlagCounts ReadFlags(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject, "tally.flags");
        long? overVoting = null, accreditedOver = null, castArithmetic = null, validArithmetic = null, ballots = null, mismatch = null, conflict = null;
        while (NextProperty(ref reader))
        {
            if (Is(ref reader, "overVoting"u8)) { overVoting = Int64(ref reader, "flags.overVoting"); }
            else if (Is(ref reader, "accreditedOverRegistered"u8)) { accreditedOver = Int64(ref reader, "flags.accreditedOverRegistered"); }
            else if (Is(ref reader, "castArithmetic"u8)) { castArithmetic = Int64(ref reader, "flags.castArithmetic"); }
            else if (Is(ref reader, "validArithmetic"u8)) { validArithmetic = Int64(ref reader, "flags.validArithmetic"); }
            else if (Is(ref reader, "ballotAccounting"u8)) { ballots = Int64(ref reader, "flags.ballotAccounting"); }
            else if (Is(ref reader, "registeredMismatch"u8)) { mismatch = Int64(ref reader, "flags.registeredMismatch"); }
            else if (Is(ref reader, "copyConflict"u8)) { conflict = Int64(ref reader, "flags.copyConflict"); }
            else { Skip(ref reader); }
        }

        return new FlagCounts(
            overVoting ?? throw Missing("flags.overVoting"),
            accreditedOver ?? throw Missing("flags.accreditedOverRegistered"),
            castArithmetic ?? throw Missing("flags.castArithmetic"),
            validArithmetic ?? throw Missing("flags.validArithmetic"),
            ballots ?? throw Missing("flags.ballotAccounting"),
            mismatch ?? throw Missing("flags.registeredMismatch"),
            conflict ?? throw Missing("flags.copyConflict"));
    }

    private static ImmutableArray<long> ReadInt64s(ref Utf8JsonReader reader, string field)
    {
        Expect(ref reader, JsonTokenType.StartArray, field);
        Span<long> small = stackalloc long[64];
        var values = small;
        long[]? rented = null;
        var count = 0;
        try
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (count == values.Length)
                {
                    var bigger = ArrayPool<long>.Shared.Rent(values.Length * 2);
                    values.CopyTo(bigger);
                    if (rented is not null)
                    {
                        ArrayPool<long>.Shared.Return(rented);
                    }

                    rented = bigger;
                    values = bigger;
                }

                values[count++] = Int64(ref reader, field);
            }

            return ImmutableCollectionsMarshal.AsImmutableArray(values[..count].ToArray());
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<long>.Shared.Return(rented);
            }
        }
    }

    private static ImmutableArray<string> ReadStrings(ref Utf8JsonReader reader, string field)
    {
        Expect(ref reader, JsonTokenType.StartArray, field);
        var builder = ImmutableArray.CreateBuilder<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            builder.Add(RequiredString(ref reader, field + "[]"));
        }

        return builder.Count == builder.Capacity ? builder.MoveToImmutable() : builder.ToImmutable();
    }

    // ---- tokens -----------------------------------------------------------------------------

    // Moves to the next property name of the current object; false at its end.
    private static bool NextProperty(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new JsonException("The message ends inside an object.");
        }

        return reader.TokenType == JsonTokenType.PropertyName;
    }

    // On a property name: whether it is <paramref name="name"/>; exactly, or (web defaults) ignoring case.
    private static bool Is(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        if (reader.ValueTextEquals(name))
        {
            return true;
        }

        if (!reader.ValueIsEscaped)
        {
            return reader.ValueSpan.Length == name.Length && Ascii.EqualsIgnoreCase(reader.ValueSpan, name);
        }

        return string.Equals(reader.GetString(), Encoding.UTF8.GetString(name), StringComparison.OrdinalIgnoreCase);
    }

    // Moves from a property name to its value; false when the value is null.
    private static bool Value(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType != JsonTokenType.Null;
    }

    private static void Skip(ref Utf8JsonReader reader)
    {
        reader.Read();
        reader.Skip();
    }

    // On the value (or the property name before it): it must be of <paramref name="type"/>.
    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string field)
    {
        if (reader.TokenType == JsonTokenType.PropertyName)
        {
            reader.Read();
        }

        if (reader.TokenType != type)
        {
            throw new JsonException($"{field}: expected {type}, found {reader.TokenType}.");
        }
    }

    private static string? NullableString(ref Utf8JsonReader reader)
    {
        if (!Value(ref reader))
        {
            return null;
        }

        Expect(ref reader, JsonTokenType.String, "string");
        return reader.GetString();
    }

    // On the value (or the property name before it) of a field that must be a string.
    private static string RequiredString(ref Utf8JsonReader reader, string field)
    {
        Expect(ref reader, JsonTokenType.String, field);
        return reader.GetString()!;
    }

    private static long? NullableInt64(ref Utf8JsonReader reader, string field) =>
        Value(ref reader) ? Int64(ref reader, field) : null;

    // On the value (or the property name before it): a whole number, also as a string (web defaults).
    private static long Int64(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.PropertyName)
        {
            reader.Read();
        }

        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value))
        {
            return value;
        }

        if (reader.TokenType == JsonTokenType.String)
        {
            var text = reader.GetString();
            if (long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out value))
            {
                return value;
            }
        }

        throw new JsonException($"{field}: expected a whole number, found {reader.TokenType}.");
    }

    private static DateTimeOffset? NullableDate(ref Utf8JsonReader reader, string field) =>
        Value(ref reader) ? Date(ref reader, field) : null;

    private static DateTimeOffset Date(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.PropertyName)
        {
            reader.Read();
        }

        if (reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var value))
        {
            return value;
        }

        throw new JsonException($"{field}: expected an ISO 8601 date, found {reader.TokenType}.");
    }

    private static bool Boolean(ref Utf8JsonReader reader, string field)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            _ => throw new JsonException($"{field}: expected true or false, found {reader.TokenType}."),
        };
    }

    private static JsonException Missing(string field) => new($"{field} is missing.");
}
