using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tprcs.Contracts;

namespace Tprcs.Grains.Storage;

/// <summary>One row of the submission log: one version of one unit's sheet. Never updated.</summary>
public sealed record SubmissionRecord(
    string ElectionId,
    string PollingUnit,
    string ParentArea,
    int Version,
    string SubmissionId,
    string Agent,
    DateTimeOffset ReceivedAt,
    string BodyHash,
    SubmitSheet Sheet)
{
    /// <summary>The stored body: the normalized command as JSON (also what the body hash is taken of).</summary>
    public static byte[] Serialize(SubmitSheet sheet) =>
        JsonSerializer.SerializeToUtf8Bytes(sheet, LogJsonContext.Default.SubmitSheet);

    public static SubmitSheet Deserialize(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, LogJsonContext.Default.SubmitSheet)
        ?? throw new InvalidDataException("A submission log row holds no sheet.");

    public static string Hash(byte[] body) => Convert.ToHexStringLower(SHA256.HashData(body));
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SubmitSheet))]
internal sealed partial class LogJsonContext : JsonSerializerContext;

public enum AppendStatus
{
    Appended = 0,
    /// <summary>The submission id is already in the log for this election (maybe for another unit).</summary>
    DuplicateSubmissionId = 1,
    /// <summary>The unit already has this version: another activation wrote it. Reload and retry.</summary>
    VersionTaken = 2,
}

public readonly record struct AppendResult(AppendStatus Status, string? ExistingUnit = null);

/// <summary>
/// The durable, append-only submission log: the source of truth from which units and areas are rebuilt.
/// <see cref="AppendAsync"/> completes only after the row's transaction has committed to disk.
/// </summary>
public interface ISubmissionLog
{
    Task<AppendResult> AppendAsync(SubmissionRecord record, byte[] body, CancellationToken cancellationToken = default);

    /// <summary>Every version of one unit, in version order.</summary>
    Task<IReadOnlyList<SubmissionRecord>> ReadUnitAsync(string electionId, string pollingUnit, CancellationToken cancellationToken = default);

    /// <summary>Every version of every unit whose parent is <paramref name="parentArea"/>, ordered by unit then version.</summary>
    Task<IReadOnlyList<SubmissionRecord>> ReadChildrenAsync(string electionId, string parentArea, CancellationToken cancellationToken = default);

    /// <summary>The whole log of one election, ordered by unit then version (for audits and tests).</summary>
    IAsyncEnumerable<SubmissionRecord> ReadAllAsync(string electionId, CancellationToken cancellationToken = default);
}
