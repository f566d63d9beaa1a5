namespace Tprcs.Gateway.Feeds;

/// <summary>
/// A feed's recent deltas on this node, oldest first, as a ring of fixed capacity: appending drops
/// the oldest when full, older deltas can be put in front while there is room, and a delta is found
/// by its seq in constant time (the window holds consecutive seqs, ending at the document's). Every
/// operation costs the same whatever the capacity (<c>DeltaWindow</c> goes up to 100,000).
/// </summary>
/// <remarks>Not thread-safe: its feed calls it under the feed's lock.</remarks>
internal sealed class DeltaWindow(int capacity)
{
    private OutMessage[] _ring = [];
    private int _head;

    public int Capacity { get; } = capacity;

    public int Count { get; private set; }

    /// <summary>The seq of the oldest delta held, or null when empty.</summary>
    public long? FirstSeq => Count > 0 ? _ring[_head].Seq : null;

    /// <summary>The seq of the newest delta held, or null when empty.</summary>
    public long? LastSeq => Count > 0 ? this[Count - 1].Seq : null;

    private OutMessage this[int i] => _ring[(_head + i) % _ring.Length];

    /// <summary>Appends the next delta (seq = last + 1; anything else starts the window again from it), dropping the oldest when full.</summary>
    public void Add(OutMessage delta)
    {
        if (Capacity == 0)
        {
            return;
        }

        if (LastSeq is { } last && delta.Seq != last + 1)
        {
            Clear();
        }

        Grow(Count + 1);
        if (Count == Capacity)
        {
            _ring[_head] = delta;
            _head = (_head + 1) % _ring.Length;
            return;
        }

        _ring[(_head + Count) % _ring.Length] = delta;
        Count++;
    }

    /// <summary>Puts <paramref name="older"/> (consecutive, oldest first, ending just before <see cref="FirstSeq"/>) in front, as many of its newest as there is room for.</summary>
    public void Prepend(IReadOnlyList<OutMessage> older)
    {
        var take = Math.Min(older.Count, Capacity - Count);
        Grow(Count + take);
        for (var i = older.Count - 1; i >= older.Count - take; i--)
        {
            _head = (_head - 1 + _ring.Length) % _ring.Length;
            _ring[_head] = older[i];
            Count++;
        }
    }

    /// <summary>The delta of <paramref name="seq"/>, or null when it is not held.</summary>
    public OutMessage? At(long seq) =>
        FirstSeq is { } first && seq >= first && seq - first < Count ? this[(int)(seq - first)] : null;

    public void Clear()
    {
        Array.Clear(_ring);
        (_head, Count) = (0, 0);
    }

    // The ring grows as deltas come (a feed's window often stays short), up to the capacity.
    private void Grow(int needed)
    {
        if (needed <= _ring.Length || _ring.Length == Capacity)
        {
            return;
        }

        var next = new OutMessage[Math.Min(Capacity, Math.Max(needed, Math.Max(8, _ring.Length * 2)))];
        for (var i = 0; i < Count; i++)
        {
            next[i] = this[i];
        }

        (_ring, _head) = (next, 0);
    }
}
