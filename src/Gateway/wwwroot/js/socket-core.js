// The socket loop: owns the one WebSocket (protocol tprcs.v1, docs/protocol.md), heartbeats,
// reconnection with backoff and full jitter, and resume. It serves "ports" (one per page/tab):
// each port watches feeds; the core keeps one server subscription per feed and a verified copy of
// each feed's document, so a new tab gets the current document at once and a resync never needs
// the server. Runs inside a SharedWorker, a dedicated Worker, or (fallback) the page itself.

import { Backoff, parseRetryHint } from './backoff.js';
import { Applied, applyDelta, fromSnapshot } from './feed-doc.js';

const PROTOCOL = 'tprcs.v1';
const LINGER_MS = 10_000;          // keep a server subscription this long after the last watcher left
const FEED_RETRY_MS = 2_000;

export class SocketCore {
  constructor({ endpoints, WebSocketImpl = globalThis.WebSocket, now = Date.now, backoff } = {}) {
    this.endpoints = endpoints && endpoints.length ? endpoints : null;
    this.endpointIndex = 0;
    this.WebSocketImpl = WebSocketImpl;
    this.now = now;
    this.backoff = backoff ?? new Backoff({ now });
    this.ports = new Set();
    this.feeds = new Map();          // feedId -> {ports:Set, doc, subscribed, resyncing, lingerTimer, retryTimer}
    this.socket = null;
    this.connectionId = null;
    this.status = { state: 'idle', since: null, retryAt: null, lastMessageAt: null, node: null, attempt: 0 };
    this.heartbeatMs = 15_000;
    this.retryTimer = null;
    this.watchdog = null;
  }

  configure({ endpoints } = {}) {
    if (!this.endpoints && endpoints && endpoints.length) this.endpoints = endpoints;
  }

  // ---- ports (pages) -------------------------------------------------------------------------

  addPort(port) {
    this.ports.add(port);
    port.onmessage = e => this.onPortMessage(port, e.data);
    if (port.start) port.start();
    this.sendStatus(port);
  }

  removePort(port) {
    this.ports.delete(port);
    for (const [feedId] of this.feeds) this.unwatch(port, feedId);
    this.broadcastStatus();
  }

  onPortMessage(port, m) {
    switch (m && m.op) {
      case 'config': this.configure(m); this.ensureConnected(); this.sendStatus(port); break;
      case 'watch': this.watch(port, m.feed); break;
      case 'unwatch': this.unwatch(port, m.feed); break;
      case 'resync': this.resync(port, m.feed); break;
      case 'bye': this.removePort(port); break;
      default: break;
    }
  }

  watch(port, feedId) {
    let feed = this.feeds.get(feedId);
    if (!feed) {
      feed = { ports: new Set(), doc: null, subscribed: false, resyncing: false, lingerTimer: null, retryTimer: null };
      this.feeds.set(feedId, feed);
    }
    clearTimeout(feed.lingerTimer);
    feed.lingerTimer = null;
    feed.ports.add(port);
    if (feed.doc) this.post(port, { op: 'snapshot', feed: feedId, doc: feed.doc });
    if (!feed.subscribed) this.subscribe(feedId);
    this.ensureConnected();
    this.broadcastStatus();
  }

  unwatch(port, feedId) {
    const feed = this.feeds.get(feedId);
    if (!feed || !feed.ports.delete(port) || feed.ports.size > 0) return;
    clearTimeout(feed.lingerTimer);
    feed.lingerTimer = setTimeout(() => {
      if (feed.ports.size > 0) return;
      this.send({ type: 'unsubscribe', feed: feedId });
      clearTimeout(feed.retryTimer);
      this.feeds.delete(feedId);
    }, LINGER_MS);
  }

  /** A page saw a gap: send it our verified document (our own chain is checked on every delta). */
  resync(port, feedId) {
    const feed = this.feeds.get(feedId);
    if (feed && feed.doc) this.post(port, { op: 'snapshot', feed: feedId, doc: feed.doc });
    else if (feed) this.subscribe(feedId);
  }

  // ---- connection ----------------------------------------------------------------------------

  endpoint() {
    const list = this.endpoints ?? [defaultEndpoint()];
    return list[this.endpointIndex % list.length];
  }

  ensureConnected() {
    if (this.socket || this.retryTimer || this.feeds.size === 0) return;
    this.connect();
  }

  connect() {
    this.retryTimer = null;
    const url = this.endpoint();
    let socket;
    try {
      socket = new this.WebSocketImpl(url, PROTOCOL);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.setStatus({ state: this.status.since ? 'reconnecting' : 'connecting', retryAt: null });
    socket.onmessage = e => this.onSocketMessage(socket, e.data);
    socket.onclose = e => this.onSocketClose(socket, e);
    socket.onerror = () => { /* a close event follows */ };
  }

  onSocketClose(socket, e) {
    if (socket !== this.socket) return;
    this.socket = null;
    clearInterval(this.watchdog);
    this.watchdog = null;
    this.backoff.down();
    this.backoff.hint(parseRetryHint(e && e.reason));
    for (const feed of this.feeds.values()) { feed.subscribed = false; feed.resyncing = false; }
    // Rotate across the endpoints we know: the next attempt goes to the next gateway.
    this.endpointIndex += 1;
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.retryTimer) return;
    if (this.feeds.size === 0) { this.setStatus({ state: 'idle', retryAt: null }); return; }
    const delay = this.backoff.next();
    this.setStatus({ state: 'waiting', retryAt: this.now() + delay, since: this.status.since ?? this.now(), attempt: this.backoff.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  send(message) {
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  subscribe(feedId) {
    const feed = this.feeds.get(feedId);
    if (!feed || !this.connectionUp) return;
    const message = { type: 'subscribe', feed: feedId };
    if (feed.doc) message.resume = { epoch: feed.doc.epoch, seq: feed.doc.seq };
    if (this.send(message)) feed.subscribed = true;
  }

  onSocketMessage(socket, data) {
    if (socket !== this.socket) return;
    this.status.lastMessageAt = this.now();
    let m;
    try { m = JSON.parse(data); } catch { return; }
    switch (m.type) {
      case 'hello': this.onHello(m); break;
      case 'snapshot': this.onSnapshot(m); break;
      case 'delta': this.onDelta(m); break;
      case 'subscribed': {
        const feed = this.feeds.get(m.feed);
        if (feed) feed.resyncing = false;
        break;
      }
      case 'error': this.onError(m); break;
      case 'drain': case 'reconnect':
        // A server asking us to move: go at the time it chose (or with backoff), resuming.
        this.backoff.hint(parseRetryHint(m) ?? 0);
        socket.close(4000, 'server asked to reconnect');
        break;
      default: break; // heartbeat, pong, unsubscribed: liveness only
    }
  }

  get connectionUp() { return this.socket && this.status.state === 'live'; }

  onHello(m) {
    this.heartbeatMs = m.heartbeatMs > 0 ? m.heartbeatMs : this.heartbeatMs;
    this.connectionId = `${m.node}:${Math.random().toString(36).slice(2, 10)}`;
    this.backoff.up();
    this.setStatus({ state: 'live', since: null, retryAt: null, node: m.node, attempt: 0, connectedAt: this.now() });
    for (const id of this.feeds.keys()) this.subscribe(id);
    clearInterval(this.watchdog);
    const socket = this.socket;
    this.watchdog = setInterval(() => {
      const silent = this.now() - this.status.lastMessageAt;
      if (silent > this.heartbeatMs * 2.5) socket.close(4001, 'heartbeat timeout');
      else if (silent > this.heartbeatMs * 1.5) this.send({ type: 'ping' });
    }, Math.max(250, Math.min(1000, this.heartbeatMs / 4)));
  }

  onSnapshot(m) {
    const feed = this.feeds.get(m.feed);
    if (!feed) return;
    feed.doc = fromSnapshot(m);
    feed.resyncing = false;
    for (const port of feed.ports) this.post(port, { op: 'snapshot', feed: m.feed, doc: feed.doc });
  }

  onDelta(m) {
    const feed = this.feeds.get(m.feed);
    if (!feed) return;
    const { result, doc } = applyDelta(feed.doc, m);
    if (result === Applied.OK) {
      feed.doc = doc;
      for (const port of feed.ports) this.post(port, { op: 'delta', feed: m.feed, delta: m });
    } else if (result !== Applied.DUPLICATE && !feed.resyncing) {
      // A gap or a delta that breaks totals == sum of rows: ask again from our last good position.
      feed.resyncing = true;
      this.subscribe(m.feed);
    }
  }

  onError(m) {
    const feed = m.feed ? this.feeds.get(m.feed) : null;
    if (feed) {
      feed.subscribed = false;
      for (const port of feed.ports) this.post(port, { op: 'error', feed: m.feed, code: m.code, message: m.message });
      if (m.code === 'unavailable' || m.code === 'too-many-feeds') {
        clearTimeout(feed.retryTimer);
        const wait = parseRetryHint(m) ?? FEED_RETRY_MS * (0.5 + Math.random());
        feed.retryTimer = setTimeout(() => this.subscribe(m.feed), wait);
      }
    }
  }

  // ---- status --------------------------------------------------------------------------------

  setStatus(patch) {
    Object.assign(this.status, patch);
    this.broadcastStatus();
  }

  statusMessage() {
    return { op: 'status', status: { ...this.status, connectionId: this.connectionId, ports: this.ports.size } };
  }

  broadcastStatus() {
    const message = this.statusMessage();
    for (const port of this.ports) this.post(port, message);
  }

  sendStatus(port) { this.post(port, this.statusMessage()); }

  post(port, message) {
    try { port.postMessage(message); } catch { this.ports.delete(port); }
  }
}

function defaultEndpoint() {
  const here = new URL('/ws', globalThis.location.href);
  here.protocol = here.protocol === 'https:' ? 'wss:' : 'ws:';
  return here.href;
}
