using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tprcs.Grains.Storage;

/// <summary>
/// The embedded submission log: one SQLite file in WAL mode with synchronous=FULL, so a commit is on
/// disk when it returns. One writer loop groups concurrent appends into one transaction (group
/// commit): each caller is answered only after the transaction holding its row has committed.
/// </summary>
public sealed partial class SqliteSubmissionLog : ISubmissionLog, IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SubmissionLogOptions _options;
    private readonly ILogger<SqliteSubmissionLog> _logger;
    private readonly string _connectionString;
    private readonly Task _writer;

    public SqliteSubmissionLog(IOptions<SubmissionLogOptions> options, ILogger<SqliteSubmissionLog> logger)
    {
        _options = options.Value;
        _logger = logger;
        var path = Path.GetFullPath(Path.Combine(_options.DataDirectory, _options.SqliteFileName));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        DatabasePath = path;
        using (var connection = Open())
        {
            Execute(connection, Schema);
        }


        _writer = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>The database file in use.</summary>
    public string DatabasePath { get; }

    // The unique keys are the log's own guards: a submission id is taken once per election, and a
    // unit's version once, even if two activations of one unit ever race.
    private const string Schema = """
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
        """;

    /// <summary>A pooled connection. Readers need no settings: WAL readers never wait for the writer.</summary>
    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public Task<AppendResult> AppendAsync(SubmissionRecord record, byte[] body, CancellationToken cancellationToken = default)
    {
        var pending = new Pending(record, body, new TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(SqliteSubmissionLog), "The submission log is closed.");
        }

        return pending.Completion.Task;
    }

    private sealed record Pending(SubmissionRecord Record, byte[] Body, TaskCompletionSource<AppendResult> Completion);

    private async Task WriteLoop()
    {
        using var connection = Open();
        // FULL: a commit is on disk (WAL fsynced) before it returns; that is what a 2xx promises.
        // The busy timeout covers other processes sharing the file (several silos on one machine).
        Execute(connection, "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;");
        var batch = new List<Pending>(_options.MaxBatchSize);
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO submissions (election_id, polling_unit, parent_area, version, submission_id, agent, received_at, body_hash, body)
            VALUES ($e, $u, $p, $v, $s, $a, $r, $h, $b)
            ON CONFLICT DO NOTHING
            """;
        var pe = insert.Parameters.Add("$e", SqliteType.Text);
        var pu = insert.Parameters.Add("$u", SqliteType.Text);
        var pp = insert.Parameters.Add("$p", SqliteType.Text);
        var pv = insert.Parameters.Add("$v", SqliteType.Integer);
        var ps = insert.Parameters.Add("$s", SqliteType.Text);
        var pa = insert.Parameters.Add("$a", SqliteType.Text);
        var pr = insert.Parameters.Add("$r", SqliteType.Text);
        var ph = insert.Parameters.Add("$h", SqliteType.Text);
        var pb = insert.Parameters.Add("$b", SqliteType.Blob);
        using var owner = connection.CreateCommand();
        owner.CommandText = "SELECT polling_unit FROM submissions WHERE election_id = $e AND submission_id = $s";
        var oe = owner.Parameters.Add("$e", SqliteType.Text);
        var os = owner.Parameters.Add("$s", SqliteType.Text);

        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatchSize && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            var results = new AppendResult[batch.Count];
            try
            {
                using var transaction = connection.BeginTransaction();
                insert.Transaction = transaction;
                owner.Transaction = transaction;
                for (var i = 0; i < batch.Count; i++)
                {
                    var r = batch[i].Record;
                    pe.Value = r.ElectionId;
                    pu.Value = r.PollingUnit;
                    pp.Value = r.ParentArea;
                    pv.Value = r.Version;
                    ps.Value = r.SubmissionId;
                    pa.Value = r.Agent;
                    pr.Value = r.ReceivedAt.ToString("O");
                    ph.Value = r.BodyHash;
                    pb.Value = batch[i].Body;
                    if (insert.ExecuteNonQuery() == 1)
                    {
                        results[i] = new AppendResult(AppendStatus.Appended);
                        continue;
                    }

                    oe.Value = r.ElectionId;
                    os.Value = r.SubmissionId;
                    results[i] = owner.ExecuteScalar() is string unit
                        ? new AppendResult(AppendStatus.DuplicateSubmissionId, unit)
                        : new AppendResult(AppendStatus.VersionTaken);
                }

                transaction.Commit();
            }
            catch (Exception ex)
            {
                LogBatchFailed(_logger, ex, batch.Count);
                foreach (var p in batch)
                {
                    p.Completion.TrySetException(ex);
                }

                continue;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }
    }

    public async Task<IReadOnlyList<SubmissionRecord>> ReadUnitAsync(string electionId, string pollingUnit, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"{SelectColumns} WHERE election_id = $e AND polling_unit = $u ORDER BY version";
        command.Parameters.AddWithValue("$e", electionId);
        command.Parameters.AddWithValue("$u", pollingUnit);
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SubmissionRecord>> ReadChildrenAsync(string electionId, string parentArea, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"{SelectColumns} WHERE election_id = $e AND parent_area = $p ORDER BY polling_unit, version";
        command.Parameters.AddWithValue("$e", electionId);
        command.Parameters.AddWithValue("$p", parentArea);
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<SubmissionRecord> ReadAllAsync(string electionId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"{SelectColumns} WHERE election_id = $e ORDER BY polling_unit, version";
        command.Parameters.AddWithValue("$e", electionId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return Map(reader);
        }
    }

    private const string SelectColumns =
        "SELECT election_id, polling_unit, parent_area, version, submission_id, agent, received_at, body_hash, body FROM submissions";

    private static async Task<IReadOnlyList<SubmissionRecord>> ReadAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var rows = new List<SubmissionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(Map(reader));
        }

        return rows;
    }

    private static SubmissionRecord Map(SqliteDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetString(4), r.GetString(5),
        DateTimeOffset.Parse(r.GetString(6), System.Globalization.CultureInfo.InvariantCulture),
        r.GetString(7), SubmissionRecord.Deserialize((byte[])r.GetValue(8)));

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "A submission log transaction of {Count} rows failed; its callers get the error and nothing of it was stored")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);
}
