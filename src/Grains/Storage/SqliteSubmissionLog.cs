using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tprcs.Grains.Storage;

/// <summary>
/// The embedded submission log: one SQLite file in WAL mode. The writer's connection uses
/// synchronous=FULL, so a commit is on disk when it returns; readers never wait for the writer.
/// Several processes on one machine may share the file (the busy timeout orders their writers).
/// </summary>
public sealed class SqliteSubmissionLog : AdoSubmissionLog
{
    private readonly string _connectionString;

    public SqliteSubmissionLog(IOptions<SubmissionLogOptions> options, ILogger<SqliteSubmissionLog> logger)
        : base(options.Value.MaxBatchSize, logger)
    {
        var path = Path.GetFullPath(Path.Combine(options.Value.DataDirectory, options.Value.SqliteFileName));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Start("""
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS submissions (
                seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                election_id   TEXT    NOT NULL,
                polling_unit  TEXT    NOT NULL,
                parent_area   TEXT    NOT NULL,
                version       INTEGER NOT NULL,
                submission_id TEXT    NOT NULL,
                agent         TEXT    NOT NULL,
                received_at   TEXT    NOT NULL,
                body_hash     TEXT    NOT NULL,
                body          BLOB    NOT NULL,
                UNIQUE (election_id, submission_id),
                UNIQUE (election_id, polling_unit, version)
            );
            CREATE INDEX IF NOT EXISTS submissions_by_parent ON submissions (election_id, parent_area, polling_unit, version);
            """);
    }

    protected override DbConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    protected override void PrepareWriter(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        // FULL: a commit is on disk (WAL fsynced) before it returns; that is what a 2xx promises.
        // The busy timeout covers other processes sharing the file (several silos on one machine).
        command.CommandText = "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;";
        command.ExecuteNonQuery();
    }

    protected override object ReceivedAtToDb(DateTimeOffset value) => value.ToString("O", CultureInfo.InvariantCulture);

    protected override DateTimeOffset ReceivedAtFromDb(DbDataReader reader, int ordinal) =>
        DateTimeOffset.Parse(reader.GetString(ordinal), CultureInfo.InvariantCulture);
}
