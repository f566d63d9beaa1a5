// The store: the single source of truth the views read. It holds each feed's document as an
// immutable object, applies snapshots and deltas from the socket worker, checks sequence continuity
// and self-consistency (totals == sum of rows, per field), and asks for a resync on any gap.
//
// Contract (Svelte's store contract, and React's useSyncExternalStore):
//   store.subscribe(run) -> unsubscribe      run(state) is called at once and on every change
//   store.getSnapshot()  -> state            the same object until the next change

import { Applied, applyDelta } from './feed-doc.js';

/** A minimal readable store with the Svelte contract. `start(set)` runs on first subscriber, its return on last. */
export function readable(initial, start) {
  let value = initial;
  let stop = null;
  const runs = new Set();
  const set = next => {
    if (Object.is(next, value)) return;
    value = next;
    for (const run of [...runs]) run(value);
  };
  return {
    subscribe(run) {
      runs.add(run);
      if (runs.size === 1 && start) stop = start(set) ?? null;
      run(value);
      return () => {
        if (!runs.delete(run)) return;
        if (runs.size === 0 && stop) { stop(); stop = null; }
      };
    },
    getSnapshot: () => value,
  };
}

/** A store whose value is set from outside: {subscribe, getSnapshot, set}. */
export function writable(initial) {
  let value = initial;
  const runs = new Set();
  return {
    subscribe(run) {
      runs.add(run);
      run(value);
      return () => { runs.delete(run); };
    },
    getSnapshot: () => value,
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const run of [...runs]) run(value);
    },
  };
}

/**
 * The store of one feed. `transport` is the client: watch(feedId, store), unwatch(feedId, store),
 * resync(feedId). State: {feed, status: 'loading'|'ready'|'error', doc, error, receivedAt}.
 */
export class FeedStore {
  constructor(feedId, transport) {
    this.feed = feedId;
    this.transport = transport;
    this.state = Object.freeze({ feed: feedId, status: 'loading', doc: null, error: null, receivedAt: null });
    this.runs = new Set();
    this.gaps = 0;
    this.subscribe = this.subscribe.bind(this);
    this.getSnapshot = this.getSnapshot.bind(this);
  }

  subscribe(run) {
    this.runs.add(run);
    if (this.runs.size === 1) this.transport.watch(this.feed, this);
    run(this.state);
    return () => {
      if (this.runs.delete(run) && this.runs.size === 0) this.transport.unwatch(this.feed, this);
    };
  }

  getSnapshot() { return this.state; }

  /** A message from the socket worker: {op: 'snapshot', doc} | {op: 'delta', delta} | {op: 'error', code, message}. */
  receive(m) {
    switch (m.op) {
      case 'snapshot':
        // The worker sends its verified document (structured clones arrive unfrozen).
        Object.freeze(m.doc.rows);
        this.set({ status: 'ready', doc: Object.freeze(m.doc), error: null });
        break;
      case 'delta': {
        const { result, doc } = applyDelta(this.state.doc, m.delta);
        if (result === Applied.OK) this.set({ status: 'ready', doc, error: null });
        else if (result !== Applied.DUPLICATE) {
          // A gap (or totals that do not add up): never show it; fetch the worker's verified document.
          this.gaps += 1;
          this.transport.resync(this.feed);
        }
        break;
      }
      case 'error':
        if (m.code === 'unknown-feed' || !this.state.doc) this.set({ status: 'error', error: { code: m.code, message: m.message } });
        break;
      default:
        break;
    }
  }

  set(patch) {
    this.state = Object.freeze({ ...this.state, ...patch, receivedAt: Date.now() });
    for (const run of [...this.runs]) run(this.state);
  }
}
