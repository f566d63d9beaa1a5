// Small DOM helpers: build once, then update text in place (no re-render, no flicker).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Sets text only when it changed. */
export function setText(el, value) {
  const s = value == null ? '' : String(value);
  if (el.textContent !== s) el.textContent = s;
}

export function setAttr(el, name, value) {
  const s = value == null ? null : String(value);
  if (el.getAttribute(name) !== s) {
    if (s == null) el.removeAttribute(name);
    else el.setAttribute(name, s);
  }
}

/** A bar: fraction in [0, 1], drawn with a transform so it never changes layout. */
export function setBar(el, fraction) {
  const f = Number.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) : 0;
  const t = `scaleX(${f.toFixed(4)})`;
  if (el.style.transform !== t) el.style.transform = t;
}

const nf = new Intl.NumberFormat('en-US');
export const num = n => (n == null ? '–' : nf.format(n));
export const pct = (a, b, digits = 1) => (b > 0 ? `${((100 * a) / b).toFixed(digits)}%` : '–');
export const time = t => (t ? new Date(t).toLocaleTimeString('en-GB', { hour12: false }) : '–');
export const dateTime = t => (t ? new Date(t).toLocaleString('en-GB', { hour12: false }) : '–');

/** Leader, runner-up and margin of a tally. */
export function race(parties, votes) {
  let first = -1, second = -1;
  for (let i = 0; i < votes.length; i++) {
    if (first < 0 || votes[i] > votes[first]) { second = first; first = i; }
    else if (second < 0 || votes[i] > votes[second]) second = i;
  }
  const top = first >= 0 ? votes[first] : 0;
  const next = second >= 0 ? votes[second] : 0;
  return { leader: top > 0 ? parties[first] : null, top, runnerUp: top > 0 && next > 0 ? parties[second] : null, margin: top - next };
}

export const FLAG_LABELS = [
  ['overVoting', 'Over-voting (cancelled)'],
  ['accreditedOverRegistered', 'Accredited > registered'],
  ['castArithmetic', 'Cast ≠ valid + rejected'],
  ['validArithmetic', 'Party votes ≠ total valid'],
  ['ballotAccounting', 'Ballot accounting'],
  ['registeredMismatch', 'Registered voters mismatch'],
  ['copyConflict', 'Copies conflict'],
];

export function flagTotal(tally) {
  let n = 0;
  for (const [k] of FLAG_LABELS) n += tally.flags[k] ?? 0;
  return n;
}
