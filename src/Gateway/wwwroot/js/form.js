// The agents' sheet form (#/submit): bearer token (sessionStorage), unit code, figures, the rule
// checks of DOMAIN.md (rules 1-5 and 11) before sending, the receipt. One submissionId per form
// fill (crypto.randomUUID()); a network error or a 5xx is retried with the same id, so the sheet is
// stored once however many times it is sent.

import { listElections, getElection, getPollingUnit, submitSheet, ApiError } from './api.js';
import { backoffDelay } from './backoff.js';
import { h, setText, num } from './views/dom.js';

const TOKEN_KEY = 'tprcs.agentToken';
const MAX_FIGURE = 100_000;
const MAX_ATTEMPTS = 6;

export async function mountForm(root, { electionId } = {}) {
  document.title = 'Submit a sheet · TPRCS';
  const elections = await listElections();
  let election = await getElection(electionId || elections[0].id);
  let submissionId = crypto.randomUUID();
  let unit = null;          // the polling unit as the API knows it, or null
  let unitError = null;
  let lookupSeq = 0;
  let closed = false;
  let sending = false;

  const input = (id, label, attrs = {}) => {
    const el = h('input', { id, name: id, inputmode: 'numeric', pattern: '[0-9]*', autocomplete: 'off', ...attrs });
    return { el, row: h('div', { class: 'field' }, h('label', { for: id }, label), el) };
  };

  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off', value: sessionStorage.getItem(TOKEN_KEY) ?? '' });
  token.addEventListener('change', () => sessionStorage.setItem(TOKEN_KEY, token.value.trim()));
  const electionSelect = h('select', { id: 'election' }, ...elections.map(e => h('option', { value: e.id, selected: e.id === election.id }, e.name)));
  const unitCode = h('input', { id: 'unit', autocomplete: 'off', placeholder: 'e.g. ED/01/01/001', spellcheck: 'false' });
  const unitInfo = h('p', { id: 'unit-info', class: 'muted', 'aria-live': 'polite' }, '\u00a0');

  const registered = input('registeredVoters', 'Registered voters (optional)');
  const accredited = input('accreditedVoters', 'Accredited voters');
  const issued = input('ballotsIssued', 'Ballots issued (optional)');
  const spoilt = input('ballotsSpoilt', 'Spoilt (optional)');
  const unused = input('ballotsUnused', 'Unused (optional)');
  const rejected = input('rejected', 'Rejected ballots');
  const totalValid = input('totalValid', 'Total valid votes');
  const totalCast = input('totalCast', 'Total votes cast');
  const votesBox = h('div', { class: 'votes-grid', id: 'votes' });
  let votes = new Map();
  const buildVotes = () => {
    votes = new Map(election.parties.map(p => [p.code, input(`votes-${p.code}`, `${p.code} (${p.name})`, { 'data-party': p.code })]));
    votesBox.replaceChildren(...[...votes.values()].map(v => v.row));
  };
  buildVotes();

  const checks = h('ul', { class: 'checks', id: 'checks', 'aria-live': 'polite' });
  const confirm = h('input', { type: 'checkbox', id: 'confirm-flagged' });
  const confirmRow = h('div', { class: 'field confirm', hidden: true }, confirm,
    h('label', { for: 'confirm-flagged' }, 'The sheet really shows these figures: send it to be stored and flagged.'));
  const send = h('button', { type: 'submit', id: 'send', class: 'primary' }, 'Send sheet');
  const fresh = h('button', { type: 'button', id: 'new-sheet' }, 'New sheet');
  const outcome = h('div', { id: 'outcome', role: 'status', 'aria-live': 'polite', class: 'outcome' });
  const idLine = h('p', { class: 'muted small', id: 'submission-id' });

  const figures = h('fieldset', { id: 'figures' },
    h('legend', {}, 'Figures on the sheet'),
    h('div', { class: 'form-grid' }, registered.row, accredited.row, rejected.row, totalValid.row, totalCast.row),
    h('details', {}, h('summary', {}, 'Ballot accounting (optional)'), h('div', { class: 'form-grid' }, issued.row, spoilt.row, unused.row)),
    h('h3', {}, 'Votes per party'), votesBox);
  const form = h('form', { id: 'sheet-form', novalidate: true, class: 'sheet-form' },
    h('fieldset', {}, h('legend', {}, 'Agent'),
      h('div', { class: 'form-grid' },
        h('div', { class: 'field' }, h('label', { for: 'token' }, 'Bearer token (kept for this tab only)'), token),
        h('div', { class: 'field' }, h('label', { for: 'election' }, 'Election'), electionSelect),
        h('div', { class: 'field' }, h('label', { for: 'unit' }, 'Polling unit code'), unitCode)),
      unitInfo),
    figures,
    h('section', { class: 'panel', 'aria-labelledby': 'checks-h' }, h('h2', { id: 'checks-h' }, 'Checks before sending'), checks),
    confirmRow,
    h('div', { class: 'actions' }, send, fresh), idLine, outcome);
  root.replaceChildren(h('h1', { class: 'area-title' }, 'Submit a result sheet'),
    h('p', { class: 'muted' }, 'For agents without the app. Figures exactly as written on the sheet (EC8A).'), form);

  const refresh = () => { setText(idLine, `Sheet id ${submissionId}`); renderChecks(); };
  form.addEventListener('input', e => { if (e.target !== confirm) confirm.checked = false; refresh(); });
  electionSelect.addEventListener('change', async () => {
    election = await getElection(electionSelect.value);
    buildVotes();
    lookupUnit();
  });
  unitCode.addEventListener('input', debounce(lookupUnit, 300));
  fresh.addEventListener('click', resetForm);
  form.addEventListener('submit', e => { e.preventDefault(); onSend(); });
  refresh();
  return () => { closed = true; };

  async function lookupUnit() {
    const code = unitCode.value.trim().toUpperCase();
    const seq = ++lookupSeq;
    unit = null;
    unitError = null;
    if (!code) { setText(unitInfo, '\u00a0'); refresh(); return; }
    setText(unitInfo, `Looking up ${code}…`);
    try {
      const u = await getPollingUnit(election.id, code);
      if (seq !== lookupSeq) return;
      unit = u;
      setText(unitInfo, `${u.unit.name} · ${num(u.unit.registeredVoters)} registered voters · ${u.copies.length} cop${u.copies.length === 1 ? 'y' : 'ies'} received so far`);
    } catch (e) {
      if (seq !== lookupSeq) return;
      unitError = e instanceof ApiError && e.status === 404 ? `Unknown polling unit '${code}' in ${election.name}.` : `Cannot check the unit now: ${e.message}`;
      setText(unitInfo, unitError);
    }
    refresh();
  }

  /** Reads the form. Returns {sheet, errors (rule 11: refused), warnings (rules 1-5: stored and flagged)}. */
  function readSheet() {
    const errors = [];
    const warnings = [];
    const value = (f, name, required) => {
      const raw = f.el.value.trim();
      if (raw === '') { if (required) errors.push([name, `${name} is required.`]); return null; }
      if (!/^\d+$/.test(raw)) { errors.push([name, `${name} must be a whole number, not negative (got '${raw}').`]); return null; }
      const n = Number(raw);
      if (n > MAX_FIGURE) { errors.push([name, `${name} is ${num(n)}, more than ${num(MAX_FIGURE)}, which no polling unit has.`]); return null; }
      return n;
    };
    const code = unitCode.value.trim().toUpperCase();
    if (!code) errors.push(['pollingUnit', 'pollingUnit is required.']);
    else if (unitError) errors.push(['pollingUnit', unitError]);
    else if (!unit) errors.push(['pollingUnit', `Checking polling unit ${code}…`]);
    const sheet = {
      submissionId,
      pollingUnit: code,
      registeredVoters: value(registered, 'registeredVoters', false) ?? undefined,
      accreditedVoters: value(accredited, 'accreditedVoters', true),
      rejected: value(rejected, 'rejected', true),
      votes: {},
      totalValid: value(totalValid, 'totalValid', true),
      totalCast: value(totalCast, 'totalCast', true),
    };
    let partySum = 0;
    for (const [party, f] of votes) {
      const n = value(f, `votes.${party}`, false) ?? 0;
      sheet.votes[party] = n;
      partySum += n;
    }
    const b = { issued: value(issued, 'ballots.issued', false), spoilt: value(spoilt, 'ballots.spoilt', false), unused: value(unused, 'ballots.unused', false) };
    if (b.issued != null || b.spoilt != null || b.unused != null) sheet.ballots = b;

    const registeredKnown = sheet.registeredVoters ?? unit?.unit.registeredVoters;
    const { accreditedVoters: acc, rejected: rej, totalValid: valid, totalCast: cast } = sheet;
    const rules = [];
    const rule = (n, ok, text, known = true) => rules.push({ n, state: !known ? 'unknown' : ok ? 'ok' : 'warn', text });
    rule(1, cast == null || acc == null || cast <= acc, `Over-voting: votes cast ${fmt(cast)} ≤ accredited ${fmt(acc)}`, cast != null && acc != null);
    rule(2, acc == null || registeredKnown == null || acc <= registeredKnown, `Accredited ${fmt(acc)} ≤ registered ${fmt(registeredKnown)}`, acc != null && registeredKnown != null);
    rule(3, cast == null || valid == null || rej == null || cast === valid + rej, `Votes cast ${fmt(cast)} = valid ${fmt(valid)} + rejected ${fmt(rej)}`, cast != null && valid != null && rej != null);
    rule(4, valid == null || partySum === valid, `Sum of party votes ${num(partySum)} = total valid ${fmt(valid)}`, valid != null);
    if (sheet.ballots) {
      const known = b.issued != null && b.spoilt != null && b.unused != null && valid != null && rej != null;
      rule(5, !known || b.issued === valid + rej + b.spoilt + b.unused,
        `Ballots issued ${fmt(b.issued)} = used ${known ? num(valid + rej) : '–'} + spoilt ${fmt(b.spoilt)} + unused ${fmt(b.unused)}`, known);
    } else {
      rules.push({ n: 5, state: 'skip', text: 'Ballot accounting: not given' });
    }
    for (const r of rules) if (r.state === 'warn') warnings.push(r);
    return { sheet, errors, warnings, rules };
  }

  function renderChecks() {
    const { errors, rules } = readSheet();
    const items = rules.map(r => h('li', { class: `check ${r.state}`, 'data-rule': r.n },
      h('span', { class: 'check-mark', 'aria-hidden': 'true' }, r.state === 'ok' ? '✓' : r.state === 'warn' ? '!' : '·'),
      ` Rule ${r.n}: ${r.text}`, r.state === 'warn' ? h('strong', {}, ' — breaks the rule: the sheet will be flagged and its votes not counted') : ''));
    items.push(h('li', { class: `check ${errors.length ? 'error' : 'ok'}`, 'data-rule': 11 },
      h('span', { class: 'check-mark', 'aria-hidden': 'true' }, errors.length ? '✗' : '✓'),
      errors.length ? ` Rule 11: ${errors.map(e => e[1]).join(' ')}` : ' Rule 11: well-formed (numbers, unit, required fields)'));
    checks.replaceChildren(...items);
    confirmRow.hidden = !rules.some(r => r.state === 'warn');
  }

  async function onSend() {
    if (sending) return;
    const { sheet, errors, warnings } = readSheet();
    const tokenValue = token.value.trim();
    sessionStorage.setItem(TOKEN_KEY, tokenValue);
    if (!tokenValue) return refuse('Enter your bearer token.');
    if (errors.length) return refuse(`Not sent: ${errors.map(e => e[1]).join(' ')}`);
    if (warnings.length && !confirm.checked) {
      return refuse(`Not sent: the sheet breaks rule ${warnings.map(w => w.n).join(', ')}. Check the figures; if the sheet really says this, tick the box to send it to be flagged.`);
    }
    sending = true;
    figures.disabled = true;
    unitCode.readOnly = true;
    send.disabled = true;
    try {
      for (let attempt = 0; !closed; attempt++) {
        setOutcome('pending', attempt === 0 ? 'Sending…' : `Sending again (attempt ${attempt + 1}, same sheet id)…`);
        try {
          const { status, receipt } = await submitSheet(election.id, tokenValue, sheet);
          showReceipt(status, receipt);
          return;
        } catch (e) {
          const transient = !(e instanceof ApiError) || e.status >= 500 || e.status === 429;
          if (!transient) return showProblem(e);
          if (attempt + 1 >= MAX_ATTEMPTS) {
            return setOutcome('error', 'Not confirmed: the network or the server is unavailable. Press Send again to retry; the same sheet id makes it safe.');
          }
          const wait = Math.max(e.retryAfterMs ?? 0, 500 + backoffDelay(attempt + 2, { capMs: 10_000 }));
          setOutcome('pending', `Not confirmed (${e.message}); retrying in ${Math.ceil(wait / 1000)} s with the same sheet id…`);
          await new Promise(r => setTimeout(r, wait));
        }
      }
    } finally {
      sending = false;
      send.disabled = false;
      if (!outcome.classList.contains('ok')) { figures.disabled = false; unitCode.readOnly = false; }
    }
  }

  function refuse(text) { setOutcome('refused', text); }

  function showProblem(e) {
    const list = e.problem?.errors ?? [];
    setOutcome('error', `Refused by the server (${e.status}): ${e.message}`);
    if (list.length) outcome.append(h('ul', {}, ...list.map(x => h('li', {}, `${x.field}: ${x.message}`))));
  }

  function showReceipt(status, r) {
    setOutcome('ok', status === 200 ? 'Already stored (same sheet sent again): receipt' : 'Stored: receipt');
    outcome.append(h('dl', { class: 'receipt', id: 'receipt' },
      ...[['Sheet id', r.submissionId], ['Polling unit', r.pollingUnit], ['Version', r.version], ['Counted', r.counted ? 'yes' : 'no'],
        ['Unit status', r.unitStatus], ['Flags', r.flags.length ? r.flags.join(', ') : 'none'], ['Received', new Date(r.receivedAt).toLocaleString('en-GB')]]
        .map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', { 'data-receipt': k }, String(v))))));
    unitCode.readOnly = true;
  }

  function setOutcome(kind, text) {
    outcome.className = `outcome ${kind}`;
    outcome.dataset.kind = kind;
    outcome.replaceChildren(h('p', {}, text));
  }

  function resetForm() {
    if (sending) return;
    submissionId = crypto.randomUUID();
    for (const f of [registered, accredited, issued, spoilt, unused, rejected, totalValid, totalCast, ...votes.values()]) f.el.value = '';
    figures.disabled = false;
    unitCode.readOnly = false;
    unitCode.value = '';
    confirm.checked = false;
    unit = null;
    unitError = null;
    setText(unitInfo, '\u00a0');
    outcome.replaceChildren();
    outcome.className = 'outcome';
    refresh();
  }
}

const fmt = n => (n == null ? '–' : num(n));

function debounce(fn, ms) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

