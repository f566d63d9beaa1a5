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
                results = await CommitAsync(batch).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Nothing of the batch is stored; its callers get the error (a 503 to agents, who
                // retry with the same id). The next batch takes a fresh connection, so a dropped
                // database connection costs one batch, not the writer.
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

    /// <summary>One transaction for the whole batch, on a pooled connection taken for it.</summary>
    private async Task<AppendResult[]> CommitAsync(List<Pending> batch)
    {
        await using var connection = await OpenAsync(CancellationToken.None).ConfigureAwait(false);
        PrepareWriter(connection);
        await using var transaction = await connection.BeginTransactionAsync().ConfigureAwait(false);
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO submissions ({Columns}) VALUES (@e, @u, @p, @v, @s, @a, @r, @h, @b) ON CONFLICT DO NOTHING";
        var pe = Add(insert, "e", DbType.String);
        var pu = Add(insert, "u", DbType.String);
        var pp = Add(insert, "p", DbType.String);
        var pv = Add(insert, "v", DbType.Int32);
        var ps = Add(insert, "s", DbType.String);
        var pa = Add(insert, "a", DbType.String);
        var pr = insert.CreateParameter();
        pr.ParameterName = "r";
        insert.Parameters.Add(pr);
        var ph = Add(insert, "h", DbType.String);
        var pb = Add(insert, "b", DbType.Binary);
        await using var owner = connection.CreateCommand();
        owner.Transaction = transaction;
        owner.CommandText = "SELECT polling_unit FROM submissions WHERE election_id = @e AND submission_id = @s";
        var oe = Add(owner, "e", DbType.String);
        var os = Add(owner, "s", DbType.String);

        var results = new AppendResult[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var r = batch[i].Record;
            pe.Value = r.ElectionId;
            pu.Value = r.PollingUnit;
            pp.Value = r.ParentArea;
            pv.Value = r.Version;
            ps.Value = r.SubmissionId;
            pa.Value = r.Agent;
            pr.Value = ReceivedAtToDb(r.ReceivedAt);
            ph.Value = r.BodyHash;
            pb.Value = batch[i].Body;
            if (await insert.ExecuteNonQueryAsync().ConfigureAwait(false) == 1)
            {
                results[i] = new AppendResult(AppendStatus.Appended);
                continue;
            }

            oe.Value = r.ElectionId;
            os.Value = r.SubmissionId;
            results[i] = await owner.ExecuteScalarAsync().ConfigureAwait(false) is string unit
                ? new AppendResult(AppendStatus.DuplicateSubmissionId, unit)
                : new AppendResult(AppendStatus.VersionTaken);
        }

        await transaction.CommitAsync().ConfigureAwait(false);
        return results;
    }

    public Task<IReadOnlyList<SubmissionRecord>> ReadUnitAsync(string electionId, string pollingUnit, CancellationToken cancellationToken = default) =>
        ReadAsync("polling_unit = @k ORDER BY version", electionId, pollingUnit, cancellationToken);

    public Task<IReadOnlyList<SubmissionRecord>> ReadChildrenAsync(string electionId, string parentArea, CancellationToken cancellationToken = default) =>
        ReadAsync("parent_area = @k ORDER BY polling_unit, version", electionId, parentArea, cancellationToken);

    public async IAsyncEnumerable<SubmissionRecord> ReadAllAsync(string electionId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM submissions WHERE election_id = @e ORDER BY polling_unit, version";
        Add(command, "e", DbType.String).Value = electionId;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return Map(reader);
        }
    }

    private async Task<IReadOnlyList<SubmissionRecord>> ReadAsync(string where, string electionId, string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM submissions WHERE election_id = @e AND {where}";
        Add(command, "e", DbType.String).Value = electionId;
        Add(command, "k", DbType.String).Value = key;
        var rows = new List<SubmissionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(Map(reader));
        }

        return rows;
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
