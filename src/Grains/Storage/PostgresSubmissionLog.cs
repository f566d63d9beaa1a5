using System.Data.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Tprcs.Grains.Storage;

/// <summary>
/// The production submission log: a PostgreSQL table of the project's own schema, shared by every
/// silo of the cluster. Commits are durable with PostgreSQL's default synchronous_commit = on.
/// </summary>
public sealed class PostgresSubmissionLog : AdoSubmissionLog
{
    private readonly NpgsqlDataSource _dataSource;

    public PostgresSubmissionLog(IOptions<SubmissionLogOptions> options, ILogger<PostgresSubmissionLog> logger)
        : base(options.Value.MaxBatchSize, logger)
    {
        _dataSource = NpgsqlDataSource.Create(options.Value.PostgresConnectionString
            ?? throw new OptionsValidationException(SubmissionLogOptions.Section, typeof(SubmissionLogOptions),
                ["Tprcs:Log:PostgresConnectionString is required when Tprcs:Log:Provider is Postgres."]));
        Start("""
            CREATE TABLE IF NOT EXISTS submissions (
                seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                election_id   TEXT        NOT NULL,
                polling_unit  TEXT        NOT NULL,
                parent_area   TEXT        NOT NULL,
                version       INTEGER     NOT NULL,
                submission_id TEXT        NOT NULL,
                agent         TEXT        NOT NULL,
                received_at   TIMESTAMPTZ NOT NULL,
                body_hash     TEXT        NOT NULL,
                body          BYTEA       NOT NULL,
                UNIQUE (election_id, submission_id),
                UNIQUE (election_id, polling_unit, version)
            );
            CREATE INDEX IF NOT EXISTS submissions_by_parent ON submissions (election_id, parent_area, polling_unit, version);
            """);
    }

    protected override DbConnection Open() => _dataSource.OpenConnection();

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override ValueTask DisposeResourcesAsync() => _dataSource.DisposeAsync();

    // timestamptz keeps microseconds in UTC; the grain takes times at that precision, so a record
    // read back is equal to the one written (and a replayed receipt equal to the first).
    protected override object ReceivedAtToDb(DateTimeOffset value) => value.UtcDateTime;

    protected override DateTimeOffset ReceivedAtFromDb(DbDataReader reader, int ordinal) =>
        new(DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc));
}
