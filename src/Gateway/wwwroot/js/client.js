// The client: starts the socket worker (a SharedWorker where the browser has one, so all tabs share
// one connection; else a dedicated Worker; else the same loop in the page) and hands out stores.
// Views import feedStore()/connectionStore() and never see a WebSocket.
//
//   import { feedStore, connectionStore, feedId } from '/js/client.js';
//   const unsubscribe = feedStore(feedId('edo-2024-gov', 'ED')).subscribe(state => ...);

import { FeedStore, writable } from './store.js';

const WORKER_URL = new URL('./socket-worker.js', import.meta.url);

export function feedId(electionId, areaCode) { return `${electionId}/${areaCode}`; }

export class Client {
  /** options: {endpoints: ['wss://a/ws', ...], mode: 'auto'|'shared'|'worker'|'inline'} */
  constructor({ endpoints = null, mode = 'auto' } = {}) {
    this.endpoints = endpoints;
    this.stores = new Map();   // feedId -> FeedStore
    this.watched = new Map();  // feedId -> FeedStore (those with subscribers)
    this.gotMessage = false;
    const connection = writable(Object.freeze({ state: 'idle', mode: null }));
    // Views get the read side only.
    this.connection = { subscribe: connection.subscribe, getSnapshot: connection.getSnapshot };
    this.setStatus = connection.set;
    this.start(mode);
    addEventListener('pagehide', () => this.port && this.port.postMessage({ op: 'bye' }));
    addEventListener('pageshow', e => { if (e.persisted) this.attach(); });
  }

  start(mode) {
    this.port = null;
    if ((mode === 'auto' || mode === 'shared') && typeof SharedWorker === 'function') {
      try {
        const worker = new SharedWorker(WORKER_URL, { type: 'module', name: 'tprcs-socket' });
        worker.onerror = () => this.fallBack();
        this.use(worker.port, 'shared');
        return;
      } catch { /* next option */ }
    }
    if ((mode === 'auto' || mode === 'worker') && typeof Worker === 'function') {
      try {
        const worker = new Worker(WORKER_URL, { type: 'module', name: 'tprcs-socket' });
        worker.onerror = () => this.fallBack();
        this.use(worker, 'worker');
        return;
      } catch { /* next option */ }
    }
    this.startInline();
  }

  /** No workers (or they failed to start): run the same socket loop on the page's thread. */
  startInline() {
    const channel = new MessageChannel();
    import('./socket-core.js').then(({ SocketCore }) => new SocketCore().addPort(channel.port1));
    this.use(channel.port2, 'inline');
  }

  fallBack() {
    if (this.gotMessage || this.mode === 'inline') return;
    this.startInline();
  }

  use(port, mode) {
    this.port = port;
    this.mode = mode;
    port.onmessage = e => this.onMessage(e);
    if (port.start) port.start();
    this.attach();
  }

  attach() {
    this.port.postMessage({ op: 'config', endpoints: this.endpoints });
    for (const id of this.watched.keys()) this.port.postMessage({ op: 'watch', feed: id });
  }

  onMessage(e) {
    const perf = globalThis.__tprcsPerf;
    const t0 = perf ? performance.now() : 0;
    const m = e.data;
    this.gotMessage = true;
    if (m.op === 'status') {
      this.setStatus(Object.freeze({ ...m.status, mode: this.mode }));
      return;
    }
    const store = this.watched.get(m.feed);
    if (store) store.receive(m);
    if (perf && m.op === 'delta') {
      // Measurement mode (browser benchmark): script time (apply + views' DOM writes), then the
      // same including the style and layout those writes cost.
      const script = performance.now() - t0;
      if (globalThis.__tprcsPerfLayout && globalThis.document) void document.body.offsetHeight;
      perf.push(performance.now() - t0);
      (globalThis.__tprcsPerfScript ??= []).push(script);
    }
  }

  /** The store of one feed ("{electionId}/{areaCode}"); the same object for the same id. */
  feedStore(id) {
    let store = this.stores.get(id);
    if (!store) {
      store = new FeedStore(id, this);
      this.stores.set(id, store);
    }
    return store;
  }

  // transport, called by FeedStore
  watch(id, store) { this.watched.set(id, store); this.port.postMessage({ op: 'watch', feed: id }); }
  unwatch(id) { this.watched.delete(id); this.port.postMessage({ op: 'unwatch', feed: id }); }
  resync(id) { this.port.postMessage({ op: 'resync', feed: id }); }
}

let shared = null;

/** The page's client, created on first use. */
export function getClient(options) { return (shared ??= new Client(options)); }

/** Store of one feed: subscribe(run) -> unsubscribe, getSnapshot(). */
export function feedStore(id) { return getClient().feedStore(id); }

/** Store of the connection: {state: 'connecting'|'live'|'waiting'|'reconnecting'|'idle', retryAt, since, lastMessageAt, mode, ...}. */
export function connectionStore() { return getClient().connection; }
