using System.ComponentModel.DataAnnotations;

namespace Tprcs.Grains.Storage;

public enum SubmissionLogProvider
{
    /// <summary>A local SQLite file: the embedded default, no server to install.</summary>
    Sqlite = 0,
    /// <summary>PostgreSQL: production, shared by every silo.</summary>
    Postgres = 1,
}

/// <summary>Settings of the submission log (section <c>Tprcs:Log</c>).</summary>
public sealed class SubmissionLogOptions
{
    public const string Section = "Tprcs:Log";

    /// <summary>Where the log lives. Default: <c>Sqlite</c>.</summary>
    public SubmissionLogProvider Provider { get; set; } = SubmissionLogProvider.Sqlite;

    /// <summary>Npgsql connection string, required with the Postgres provider. Default: none.</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>Folder of the embedded SQLite log, relative to the working directory. Default: <c>data</c>.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>File name of the SQLite log inside <see cref="DataDirectory"/>. Default: <c>submissions.db</c>.</summary>
    [Required]
    public string SqliteFileName { get; set; } = "submissions.db";

    /// <summary>Most rows committed in one transaction (group commit). Default: 512.</summary>
    [Range(1, 100_000)]
    public int MaxBatchSize { get; set; } = 512;
}
