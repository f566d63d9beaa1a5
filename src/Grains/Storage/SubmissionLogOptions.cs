using System.ComponentModel.DataAnnotations;

namespace Tprcs.Grains.Storage;

/// <summary>Settings of the submission log (section <c>Tprcs:Log</c>).</summary>
public sealed class SubmissionLogOptions
{
    public const string Section = "Tprcs:Log";

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
