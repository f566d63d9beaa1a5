// Pure functions over a feed document (docs/protocol.md): apply a snapshot or a delta, check that
// totals are the exact sum of the rows, field by field. Used by the socket worker and by the store.

/** Result of offering a delta to a document. */
export const Applied = Object.freeze({ OK: 'ok', DUPLICATE: 'duplicate', GAP: 'gap', INCONSISTENT: 'inconsistent' });

/** Builds an immutable document from a snapshot message. */
export function fromSnapshot(msg) {
  const doc = { ...msg.doc, epoch: msg.epoch, seq: msg.seq };
  return freezeDoc(doc);
}

/**
 * Applies a delta message to a document. Returns {result, doc}: doc is a new immutable document
 * when result is OK, else the old one unchanged.
 */
export function applyDelta(doc, msg) {
  if (!doc) return { result: Applied.GAP, doc };
  if (msg.epoch === doc.epoch && msg.seq <= doc.seq) return { result: Applied.DUPLICATE, doc };
  if (msg.epoch !== doc.epoch || msg.seq !== doc.seq + 1) return { result: Applied.GAP, doc };

  let rows = doc.rows;
  if (msg.rows && msg.rows.length > 0) {
    rows = rows.slice();
    const index = rowIndex(doc);
    for (const row of msg.rows) {
      const at = index.get(row.code);
      if (at === undefined) rows.push(row);
      else rows[at] = row;
    }
  }
  const next = { ...doc, seq: msg.seq, version: msg.version, totals: msg.totals, rows, updatedAt: msg.updatedAt };
  const mismatch = checkTotals(next);
  if (mismatch) return { result: Applied.INCONSISTENT, doc, mismatch };
  if (rows.length === doc.rows.length) indexes.set(next, rowIndex(doc));
  return { result: Applied.OK, doc: freezeDoc(next) };
}

const indexes = new WeakMap();
function rowIndex(doc) {
  let index = indexes.get(doc);
  if (!index) {
    index = new Map();
    doc.rows.forEach((r, i) => index.set(r.code, i));
    indexes.set(doc, index);
  }
  return index;
}

/**
 * Checks totals == sum of rows for every additive field (votes per party, voters, units, flags...).
 * Returns null when consistent, else the path of the first field that differs. Walks the totals'
 * shape, so a field added to the tally later is checked too.
 */
export function checkTotals(doc) {
  if (!doc.rows || doc.rows.length === 0) return null;
  const sums = [];
  for (const row of doc.rows) accumulate(row.tally, sums, 0);
  const expected = [];
  accumulate(doc.totals, expected, 0);
  for (let i = 0; i < expected.length; i++) {
    if ((sums[i] ?? 0) !== expected[i]) return `totals field #${i} (${expected[i]} ≠ Σ rows ${sums[i] ?? 0}): ${leafPath(doc.totals, i)}`;
  }
  return null;
}

/** Adds the numeric leaves of `node`, in key order, into sums[at...]; returns the next index. */
function accumulate(node, sums, at) {
  if (typeof node === 'number') {
    sums[at] = (sums[at] ?? 0) + node;
    return at + 1;
  }
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) at = accumulate(node[i], sums, at);
    return at;
  }
  if (node && typeof node === 'object') {
    for (const key in node) at = accumulate(node[key], sums, at);
  }
  return at;
}

function leafPath(node, target) {
  let at = 0;
  const walk = (n, path) => {
    if (typeof n === 'number') return at++ === target ? path : null;
    if (Array.isArray(n)) { for (let i = 0; i < n.length; i++) { const p = walk(n[i], `${path}[${i}]`); if (p) return p; } return null; }
    if (n && typeof n === 'object') { for (const k in n) { const p = walk(n[k], `${path}.${k}`); if (p) return p; } }
    return null;
  };
  return walk(node, 'totals');
}

function freezeDoc(doc) {
  Object.freeze(doc.rows);
  return Object.freeze(doc);
}
