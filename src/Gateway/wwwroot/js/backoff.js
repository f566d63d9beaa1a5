// Reconnection delays: exponential backoff with full jitter (docs/dashboard.md, "Backoff").
//   delay = random in [0, min(cap, base * 2^attempt)]
// The attempt counter resets only after a connection stayed up for a stable period, so a server
// that accepts and then drops connections at once still gets spread-out, growing delays.

export const BASE_MS = 100;
export const CAP_MS = 30_000;
export const STABLE_MS = 10_000;

/** The full-jitter delay for one attempt (0-based). `random` returns a number in [0, 1). */
export function backoffDelay(attempt, { baseMs = BASE_MS, capMs = CAP_MS, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return random() * ceiling;
}

/**
 * Parses a server retry hint: a number of seconds ("2", "1.5"), "retry-after: 3", "retry-after=500ms"
 * or an object {retryAfterMs}. Returns milliseconds, or null when there is no hint.
 */
export function parseRetryHint(hint) {
  if (hint == null) return null;
  if (typeof hint === 'object') {
    const ms = Number(hint.retryAfterMs ?? hint.afterMs ?? (hint.retryAfter != null ? hint.retryAfter * 1000 : NaN));
    return Number.isFinite(ms) && ms >= 0 ? ms : null;
  }
  const m = /^\s*(?:retry[-_ ]?after\s*[:=]?\s*)?(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/i.exec(String(hint))
    ?? /retry[-_ ]?after\s*[:=]?\s*(\d+(?:\.\d+)?)\s*(ms|s)?/i.exec(String(hint));
  if (!m) return null;
  const value = Number(m[1]);
  return (m[2] ?? 's').toLowerCase() === 'ms' ? value : value * 1000;
}

/** Tracks attempts of one reconnecting loop. Never gives up. */
export class Backoff {
  constructor({ baseMs = BASE_MS, capMs = CAP_MS, stableMs = STABLE_MS, random = Math.random, now = Date.now } = {}) {
    Object.assign(this, { baseMs, capMs, stableMs, random, now });
    this.attempt = 0;
    this.upSince = null;
    this.hintMs = null;
  }

  /** The connection is up (the server said hello). */
  up() { this.upSince = this.now(); }

  /** The connection ended; an attempt counter older than a stable period starts again from 0. */
  down() {
    if (this.upSince != null && this.now() - this.upSince >= this.stableMs) this.attempt = 0;
    this.upSince = null;
  }

  /** A server hint (ms) for the next wait: we wait at least that long. */
  hint(ms) { if (ms != null && ms >= 0) this.hintMs = Math.min(ms, 10 * this.capMs); }

  /** The wait before the next attempt, and counts the attempt. */
  next() {
    const jittered = backoffDelay(this.attempt, this);
    this.attempt += 1;
    const hint = this.hintMs;
    this.hintMs = null;
    return hint == null ? jittered : Math.max(hint, jittered);
  }
}
