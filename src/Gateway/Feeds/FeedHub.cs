using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Tprcs.Contracts;
using Tprcs.Gateway.Api;

namespace Tprcs.Gateway.Feeds;

/// <summary>
/// The feeds open on this gateway node, one per area however many clients watch it. A background
/// loop checks every feed's tail against its grain and drops feeds nobody has watched for a while.
/// </summary>
public sealed partial class FeedHub(
    IClusterClient cluster,
    ElectionDirectory elections,
    IOptions<FeedGatewayOptions> options,
    TimeProvider time,
    ILogger<FeedHub> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, Lazy<Task<Feed>>> _feeds = new(StringComparer.Ordinal);
    private readonly FeedGatewayOptions _options = options.Value;

    public Feed? Find(string key) =>
        _feeds.TryGetValue(key, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully ? lazy.Value.Result : null;

    /// <summary>The feed of "{election}/{area}", started on first use; null when no such area exists.</summary>
    public async Task<Feed?> AcquireAsync(string key)
    {
        string electionId, code;
        try
        {
            (electionId, code) = Keys.Split(key);
        }
        catch (ArgumentException)
        {
            return null;
        }

        var election = await elections.GetAsync(electionId);
        var area = election is null ? null : await elections.GetAreaAsync(electionId, code);
        if (election is null || area is null || area.IsPollingUnit)
        {
            return null;
        }

        var lazy = _feeds.GetOrAdd(key, k => new Lazy<Task<Feed>>(async () =>
        {
            var feed = new Feed(k, election.Parties.Select(p => p.Code).ToArray(), cluster, _options.DeltaWindow, logger);
            await feed.StartAsync();
            LogFeedOpened(logger, k);
            return feed;
        }));
        try
        {
            return await lazy.Value;
        }
        catch
        {
            // A failed start must not stick: the next subscriber tries again.
            _feeds.TryRemove(new KeyValuePair<string, Lazy<Task<Feed>>>(key, lazy));
            throw;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.TailCheckInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // All feeds at once, each bounded by the interval: one slow grain cannot hold up the
            // others' checks (which also renew their areas' watch leases).
            var checks = new List<Task>();
            foreach (var (key, lazy) in _feeds)
            {
                if (!lazy.IsValueCreated || !lazy.Value.IsCompletedSuccessfully)
                {
                    continue;
                }

                var feed = lazy.Value.Result;
                if (feed.TryRetire(time.GetUtcNow(), _options.IdleFeedLifetime))
                {
                    if (_feeds.TryRemove(new KeyValuePair<string, Lazy<Task<Feed>>>(key, lazy)))
                    {
                        checks.Add(StopQuietly(feed));
                    }

                    continue;
                }

                checks.Add(CheckQuietly(feed));
            }

            await Task.WhenAll(checks);
        }
    }

    private async Task CheckQuietly(Feed feed)
    {
        try
        {
            await feed.CheckTailAsync(_options.TailCheckInterval);
        }
        catch (Exception ex)
        {
            LogTailCheckFailed(logger, ex, feed.Key);
        }
    }

    private async Task StopQuietly(Feed feed)
    {
        try
        {
            await feed.StopAsync();
            LogFeedClosed(logger, feed.Key);
        }
        catch (Exception ex)
        {
            LogTailCheckFailed(logger, ex, feed.Key);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Feed {Feed} opened on this node")]
    private static partial void LogFeedOpened(ILogger logger, string feed);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Feed {Feed} closed: nobody watched it")]
    private static partial void LogFeedClosed(ILogger logger, string feed);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Feed {Feed}: tail check failed")]
    private static partial void LogTailCheckFailed(ILogger logger, Exception exception, string feed);
}
