using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Tprcs.Grains.Storage;

/// <summary>
/// The submission log over ADO.NET, shared by the SQLite and PostgreSQL providers. One writer loop
/// takes every append waiting and commits them in one transaction (group commit); each caller is
/// answered only after the transaction holding its row has committed. The table's unique keys are
/// the log's own guards: a submission id is taken once per election, and a unit's version once,
/// even if two activations of one unit (or two silos) ever race.
/// </summary>
public abstract partial class AdoSubmissionLog : ISubmissionLog, IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _maxBatch;
    private readonly ILogger _logger;
    private Task? _writer;

    protected AdoSubmissionLog(int maxBatch, ILogger logger)
    {
        _maxBatch = maxBatch;
        _logger = logger;
    }

    protected const string Columns = "election_id, polling_unit, parent_area, version, submission_id, agent, received_at, body_hash, body";

    /// <summary>Creates the schema, then starts the writer loop. Called once by the provider's constructor.</summary>
    protected void Start(string schema)
    {
        using (var connection = Open())
        {
            using var command = connection.CreateCommand();
            command.CommandText = schema;
            command.ExecuteNonQuery();
        }

        _writer = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>An open connection (pooled).</summary>
    protected abstract DbConnection Open();

    /// <summary>
    /// An open connection without blocking the calling thread (grain threads must not wait on a
    /// connection pool). Defaults to <see cref="Open"/> for providers whose opening never waits.
    /// </summary>
    protected virtual ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Open());

    /// <summary>Settings for the writer's own connection (durability).</summary>
    protected virtual void PrepareWriter(DbConnection connection)
    {
    }

    protected abstract object ReceivedAtToDb(DateTimeOffset value);

    protected abstract DateTimeOffset ReceivedAtFromDb(DbDataReader reader, int ordinal);

    public Task<AppendResult> AppendAsync(SubmissionRecord record, byte[] body, CancellationToken cancellationToken = default)
    {
        var pending = new Pending(record, body, new TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(GetType().Name, "The submission log is closed.");
        }

        return pending.Completion.Task;
    }

    private sealed record Pending(SubmissionRecord Record, byte[] Body, TaskCompletionSource<AppendResult> Completion);

    private static DbParameter Add(DbCommand command, string name, DbType type)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.DbType = type;
        command.Parameters.Add(p);
        return p;
    }

    private async Task WriteLoop()
    {
        var batch = new List<Pending>(_maxBatch);
        WriterSession? session = null;
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            AppendResult[] results;
            try
            {
                session ??= await WriterSession.OpenAsync(this).ConfigureAwait(false);
                results = await session.CommitAsync(batch, this).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Nothing of the batch is stored; its callers get the error (a 503 to agents, who
                // retry with the same id). The session is dropped, so a lost database connection
                // costs one batch, not the writer: the next batch opens a fresh one.
                LogBatchFailed(_logger, ex, batch.Count);
                foreach (var p in batch)
                {
                    p.Completion.TrySetException(ex);
                }

                if (session is not null)
                {
                    await session.DisposeAsync().ConfigureAwait(false);
                    session = null;
                }

                continue;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }

        if (session is not null)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The writer's connection and prepared statements, kept from batch to batch.</summary>
    private sealed class WriterSession : IAsyncDisposable
    {
        private readonly DbConnection _connection;
        private readonly DbCommand _insert;
        private readonly DbCommand _owner;
        private readonly DbParameter _pe, _pu, _pp, _pv, _ps, _pa, _pr, _ph, _pb, _oe, _os;

        private WriterSession(DbConnection connection)
        {
            _connection = connection;
            _insert = connection.CreateCommand();
            _insert.CommandText = $"INSERT INTO submissions ({Columns}) VALUES (@e, @u, @p, @v, @s, @a, @r, @h, @b) ON CONFLICT DO NOTHING";
            _pe = Add(_insert, "e", DbType.String);
            _pu = Add(_insert, "u", DbType.String);
            _pp = Add(_insert, "p", DbType.String);
            _pv = Add(_insert, "v", DbType.Int32);
            _ps = Add(_insert, "s", DbType.String);
            _pa = Add(_insert, "a", DbType.String);
            _pr = _insert.CreateParameter();
            _pr.ParameterName = "r";
            _insert.Parameters.Add(_pr);
            _ph = Add(_insert, "h", DbType.String);
            _pb = Add(_insert, "b", DbType.Binary);
            _owner = connection.CreateCommand();
            _owner.CommandText = "SELECT polling_unit FROM submissions WHERE election_id = @e AND submission_id = @s";
            _oe = Add(_owner, "e", DbType.String);
            _os = Add(_owner, "s", DbType.String);
        }

        public static async Task<WriterSession> OpenAsync(AdoSubmissionLog log)
        {
            var connection = await log.OpenAsync(CancellationToken.None).ConfigureAwait(false);
            log.PrepareWriter(connection);
            return new WriterSession(connection);
        }

        /// <summary>One transaction for the whole batch.</summary>
        public async Task<AppendResult[]> CommitAsync(List<Pending> batch, AdoSubmissionLog log)
        {
            await using var transaction = await _connection.BeginTransactionAsync().ConfigureAwait(false);
            _insert.Transaction = transaction;
            _owner.Transaction = transaction;
            var results = new AppendResult[batch.Count];
            for (var i = 0; i < batch.Count; i++)
            {
                var r = batch[i].Record;
                _pe.Value = r.ElectionId;
                _pu.Value = r.PollingUnit;
                _pp.Value = r.ParentArea;
                _pv.Value = r.Version;
                _ps.Value = r.SubmissionId;
                _pa.Value = r.Agent;
                _pr.Value = log.ReceivedAtToDb(r.ReceivedAt);
                _ph.Value = r.BodyHash;
                _pb.Value = batch[i].Body;
                if (await _insert.ExecuteNonQueryAsync().ConfigureAwait(false) == 1)
                {
                    results[i] = new AppendResult(AppendStatus.Appended);
                    continue;
                }

                _oe.Value = r.ElectionId;
                _os.Value = r.SubmissionId;
                results[i] = await _owner.ExecuteScalarAsync().ConfigureAwait(false) is string unit
                    ? new AppendResult(AppendStatus.DuplicateSubmissionId, unit)
                    : new AppendResult(AppendStatus.VersionTaken);
            }

            await transaction.CommitAsync().ConfigureAwait(false);
            return results;
        }

        public async ValueTask DisposeAsync()
        {
            await _insert.DisposeAsync().ConfigureAwait(false);
            await _owner.DisposeAsync().ConfigureAwait(false);
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task<IReadOnlyList<SubmissionRecord>> ReadUnitAsync(string electionId, string pollingUnit, CancellationToken cancellationToken = default) =>
        ReadAsync("polling_unit = @k ORDER BY version", electionId, pollingUnit, cancellationToken);

    public Task<IReadOnlyList<SubmissionRecord>> ReadChildrenAsync(string electionId, string parentArea, CancellationToken cancellationToken = default) =>
        ReadAsync("parent_area = @k ORDER BY polling_unit, version", electionId, parentArea, cancellationToken);

    public IAsyncEnumerable<SubmissionRecord> ReadAllAsync(string electionId, CancellationToken cancellationToken = default) =>
        QueryAsync("ORDER BY polling_unit, version", electionId, null, cancellationToken);

    private async Task<IReadOnlyList<SubmissionRecord>> ReadAsync(string where, string electionId, string key, CancellationToken cancellationToken)
    {
        var rows = new List<SubmissionRecord>();
        await foreach (var row in QueryAsync($"AND {where}", electionId, key, cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>The election's rows, narrowed and ordered by <paramref name="rest"/> (which may use <c>@k</c> = <paramref name="key"/>).</summary>
    private async IAsyncEnumerable<SubmissionRecord> QueryAsync(string rest, string electionId, string? key,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM submissions WHERE election_id = @e {rest}";
        Add(command, "e", DbType.String).Value = electionId;
        if (key is not null)
        {
            Add(command, "k", DbType.String).Value = key;
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return Map(reader);
        }
    }

    private SubmissionRecord Map(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetString(4), r.GetString(5),
        ReceivedAtFromDb(r, 6), r.GetString(7), SubmissionRecord.Deserialize((byte[])r.GetValue(8)));

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }

        await DisposeResourcesAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the provider's own resources once the writer has finished.</summary>
    protected virtual ValueTask DisposeResourcesAsync() => ValueTask.CompletedTask;

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "A submission log transaction of {Count} rows failed; its callers get the error and nothing of it was stored")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);
}
