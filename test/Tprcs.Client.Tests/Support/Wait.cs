namespace Tprcs.Client.Tests.Support;

/// <summary>Awaits a published value that satisfies a condition, with a timeout and a message naming what did not happen.</summary>
internal static class Wait
{
    public static Task<FeedState> ForAsync(FeedStore store, Func<FeedState, bool> condition, string what, TimeSpan? timeout = null) =>
        ForAsync<FeedState>(store.Subscribe, condition, what, timeout,
            () => $"{store.Current} totals {System.Text.Json.JsonSerializer.Serialize(store.Current.Totals)}");

    public static Task<ConnectionStatus> ForAsync(FeedSocketWorker worker, Func<ConnectionStatus, bool> condition, string what, TimeSpan? timeout = null) =>
        ForAsync<ConnectionStatus>(worker.SubscribeStatus, condition, what, timeout, () => worker.Status.ToString());

    private static async Task<T> ForAsync<T>(Func<Action<T>, IDisposable> subscribe, Func<T, bool> condition, string what, TimeSpan? timeout, Func<string> last)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = subscribe(value =>
        {
            if (condition(value))
            {
                done.TrySetResult(value);
            }
        });
        try
        {
            return await done.Task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"Timed out after {limit.TotalSeconds} s waiting for {what}; last: {last()}");
        }
    }
}
