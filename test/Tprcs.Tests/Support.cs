namespace Tprcs.Tests;

public static class Wait
{
    /// <summary>
    /// Polls a condition that has no event to await (state converging across grains) every 20 ms,
    /// failing with <paramref name="what"/> when it does not hold within the timeout.
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            if (await condition())
            {
                return;
            }

            try
            {
                await Task.Delay(20, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"Within {timeout.TotalSeconds} s, {what} did not happen.");
            }
        }
    }
}
