using Microsoft.Extensions.Time.Testing;

namespace Tprcs.Client.Tests;

public class BackoffTests
{
    private static readonly TimeSpan Base = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Stable = TimeSpan.FromSeconds(30);

    private static Backoff Make(Random random, TimeProvider? time = null) => new(Base, Cap, Stable, random, time ?? new FakeTimeProvider());

    [Fact]
    public void Ceilings_double_from_the_base_up_to_the_cap()
    {
        var backoff = Make(new Random(1));
        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.Ceiling(0));
        Assert.Equal(TimeSpan.FromMilliseconds(200), backoff.Ceiling(1));
        Assert.Equal(TimeSpan.FromMilliseconds(25_600), backoff.Ceiling(8));
        Assert.Equal(Cap, backoff.Ceiling(9));
        Assert.Equal(Cap, backoff.Ceiling(1_000));
        Assert.Equal(Cap, backoff.Ceiling(int.MaxValue));
    }

    [Fact]
    public void Draws_stay_within_zero_and_the_ceiling_and_average_half_of_it()
    {
        var backoff = Make(new Random(20240921));
        const int draws = 20_000;
        for (var attempt = 0; attempt <= 12; attempt++)
        {
            var ceiling = backoff.Ceiling(attempt);
            Assert.Equal(TimeSpan.FromTicks(Math.Min(Cap.Ticks, Base.Ticks << attempt)), ceiling);
            double sum = 0, min = double.MaxValue, max = 0;
            for (var i = 0; i < draws; i++)
            {
                var delay = backoff.Draw(ceiling);
                Assert.InRange(delay, TimeSpan.Zero, ceiling);
                sum += delay.Ticks;
                min = Math.Min(min, delay.Ticks);
                max = Math.Max(max, delay.Ticks);
            }

            // Uniform on [0, c]: mean c/2, standard error c/sqrt(12 n) ≈ 0.002 c; 2% is > 9 standard errors.
            var mean = sum / draws;
            Assert.InRange(mean / ceiling.Ticks, 0.48, 0.52);

            // Full jitter: the whole range is used, not a band near the ceiling.
            Assert.True(min < ceiling.Ticks * 0.01 && max > ceiling.Ticks * 0.99, $"attempt {attempt}: draws span {min}..{max} of {ceiling.Ticks}");
        }
    }

    [Fact]
    public void Successive_attempts_use_growing_ceilings_and_never_give_up()
    {
        var backoff = Make(new Random(7));
        for (var attempt = 0; attempt < 1_000; attempt++)
        {
            Assert.Equal(attempt, backoff.Attempt);
            var delay = backoff.NextDelay();
            Assert.InRange(delay, TimeSpan.Zero, backoff.Ceiling(attempt));
        }

        Assert.Equal(1_000, backoff.Attempt);
    }

    [Fact]
    public void The_first_retry_after_a_lost_connection_is_drawn_from_the_servers_window()
    {
        var time = new FakeTimeProvider();
        var window = TimeSpan.FromSeconds(10);
        var random = new Random(99);
        const int runs = 5_000;
        double sum = 0;
        var above = 0;
        for (var i = 0; i < runs; i++)
        {
            var backoff = Make(random, time);
            backoff.Connected();
            backoff.ConnectionLost(window);
            var first = backoff.NextDelay();
            Assert.InRange(first, TimeSpan.Zero, window);
            sum += first.Ticks;
            above += first > Base ? 1 : 0;

            // The window is for the first attempt only; the next one is attempt 1 of the usual backoff.
            Assert.InRange(backoff.NextDelay(), TimeSpan.Zero, backoff.Ceiling(1));
        }

        Assert.InRange(sum / runs / window.Ticks, 0.47, 0.53);
        Assert.True(above > runs * 0.9, "the window did not spread the first retries beyond the base");

        // A window smaller than the base: the base.
        var small = Make(new Random(3), time);
        small.Connected();
        small.ConnectionLost(TimeSpan.FromMilliseconds(5));
        var draws = Enumerable.Range(0, 1).Select(_ => small.NextDelay()).ToList();
        Assert.InRange(draws[0], TimeSpan.Zero, Base);
    }

    [Fact]
    public void The_attempt_counter_resets_only_after_a_connection_stayed_up_for_the_stable_period()
    {
        var time = new FakeTimeProvider();
        var backoff = Make(new Random(5), time);
        for (var i = 0; i < 6; i++)
        {
            backoff.NextDelay(); // six failed attempts
        }

        Assert.Equal(6, backoff.Attempt);

        // Up, but dropped before the stable period: the counter goes on growing.
        backoff.Connected();
        time.Advance(Stable - TimeSpan.FromMilliseconds(1));
        backoff.ConnectionLost(null);
        Assert.Equal(6, backoff.Attempt);
        Assert.InRange(backoff.NextDelay(), TimeSpan.Zero, backoff.Ceiling(6));
        Assert.Equal(7, backoff.Attempt);

        // Up for the stable period: back to attempt 0.
        backoff.Connected();
        time.Advance(Stable);
        backoff.ConnectionLost(null);
        Assert.Equal(0, backoff.Attempt);
        Assert.InRange(backoff.NextDelay(), TimeSpan.Zero, Base);
    }

    [Fact]
    public void A_server_hint_longer_than_the_draw_wins_and_a_shorter_one_does_not()
    {
        var half = new Backoff(Base, Cap, Stable, () => 0.5, new FakeTimeProvider());
        // A hint that wins is spread over [hint, 2 x hint]: with a draw of 0.5, 1.5 x hint.
        half.Hint(TimeSpan.FromSeconds(4));
        Assert.Equal(TimeSpan.FromSeconds(6), half.NextDelay());

        // Consumed: the next draw is the plain one (attempt 1: half of 200 ms).
        Assert.Equal(TimeSpan.FromMilliseconds(100), half.NextDelay());

        // Shorter than the draw (attempt 2: half of 400 ms): the draw.
        half.Hint(TimeSpan.FromMilliseconds(10));
        Assert.Equal(TimeSpan.FromMilliseconds(200), half.NextDelay());

        // Several hints: the longest; an absurd one is cut to MaxHint.
        half.Hint(TimeSpan.FromSeconds(2));
        half.Hint(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(3), half.NextDelay());
        half.Hint(TimeSpan.FromDays(3));
        Assert.Equal(half.MaxHint, half.NextDelay());

        // A hint also wins over the first-retry window draw.
        half.Connected();
        half.ConnectionLost(TimeSpan.FromSeconds(10));
        half.Hint(TimeSpan.FromSeconds(8));
        Assert.Equal(TimeSpan.FromSeconds(12), half.NextDelay());
    }
}
