using System.Collections.Immutable;

namespace Tprcs.Client;

/// <summary>
/// A current value and its change notifications: observers get the current value at once, then
/// every later value, in order, one at a time (publications are serialized). Observers run on the
/// publishing thread and must not block; an exception thrown by an observer is swallowed so that
/// it cannot stop the socket worker.
/// </summary>
internal sealed class Published<T> : IObservable<T>
    where T : class
{
    private readonly object _gate = new();
    private ImmutableArray<IObserver<T>> _observers = [];
    private T _current;

    public Published(T initial) => _current = initial;

    public T Current => Volatile.Read(ref _current);

    public event EventHandler<T>? Changed;

    /// <summary>Publishes a whole new value; notifications of successive values never interleave.</summary>
    public void Publish(T value, object sender)
    {
        lock (_gate)
        {
            Volatile.Write(ref _current, value);
            foreach (var observer in _observers)
            {
                try
                {
                    observer.OnNext(value);
                }
                catch (Exception)
                {
                    // An observer's bug must not stop the publisher.
                }
            }

            try
            {
                Changed?.Invoke(sender, value);
            }
            catch (Exception)
            {
                // Same.
            }
        }
    }

    /// <summary>Calls <paramref name="update"/> with the current value and publishes its result when it returns another object; atomic with respect to other updates.</summary>
    public T Update(Func<T, T> update, object sender)
    {
        lock (_gate)
        {
            var current = _current;
            var next = update(current);
            if (!ReferenceEquals(next, current))
            {
                Publish(next, sender);
            }

            return next;
        }
    }

    public IDisposable Subscribe(IObserver<T> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_gate)
        {
            _observers = _observers.Add(observer);
            try
            {
                observer.OnNext(_current);
            }
            catch (Exception)
            {
                // See Publish.
            }
        }

        return new Subscription(this, observer);
    }

    public IDisposable Subscribe(Action<T> onNext)
    {
        ArgumentNullException.ThrowIfNull(onNext);
        return Subscribe(new ActionObserver(onNext));
    }

    private void Remove(IObserver<T> observer)
    {
        lock (_gate)
        {
            _observers = _observers.Remove(observer);
        }
    }

    private sealed class Subscription(Published<T> owner, IObserver<T> observer) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Remove(observer);
            }
        }
    }

    private sealed class ActionObserver(Action<T> onNext) : IObserver<T>
    {
        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void OnNext(T value) => onNext(value);
    }
}
