// The area view: party totals, leader and margin, turnout, coverage, flags, children table.
// Built once per route; every store update only rewrites text, bar transforms and row order.

import { feedStore, feedId } from '../client.js';
import { h, setText, setAttr, setBar, num, pct, race, FLAG_LABELS, flagTotal } from './dom.js';

const collator = new Intl.Collator('en', { numeric: true });
const races = new WeakMap();   // row object (immutable) -> race; only changed rows are recomputed

const COLUMNS = [
  { key: 'name', label: 'Name', value: r => r.name, text: true },
  { key: 'status', label: 'Status', value: r => r.status ?? '' , text: true, unitsOnly: true },
  { key: 'counted', label: 'Counted', value: r => r.tally.units.counted },
  { key: 'coverage', label: 'Coverage', value: r => (r.tally.registeredVoters ? r.tally.registeredCovered / r.tally.registeredVoters : 0) },
  { key: 'cast', label: 'Votes cast', value: r => r.tally.totalCast },
  { key: 'leader', label: 'Leader', value: r => r._race.leader ?? '', text: true },
  { key: 'margin', label: 'Margin', value: r => r._race.margin },
  { key: 'flags', label: 'Flags', value: r => flagTotal(r.tally) + r.tally.units.cancelled },
];

export function mountArea(root, { election, areaCode, names, onDoc }) {
  const store = feedStore(feedId(election.id, areaCode));
  const parties = election.parties.map(p => p.code);
  const partyNames = new Map(election.parties.map(p => [p.code, p.name]));
  let sort = { key: 'name', dir: 1 };
  let lastDoc = null;

  // ---- skeleton ----
  const title = h('h1', { id: 'area-title', class: 'area-title' }, areaCode);
  const subtitle = h('p', { class: 'muted', id: 'area-sub' }, '\u00a0');
  const crumbs = h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' });
  const message = h('p', { class: 'message', role: 'status', id: 'area-message' }, 'Loading…');

  const cards = {};
  const card = (key, label) => {
    const value = h('div', { class: 'card-value', 'data-testid': `card-${key}` }, '–');
    const detail = h('div', { class: 'card-detail' }, '\u00a0');
    cards[key] = { value, detail };
    return h('section', { class: 'card', 'aria-label': label }, h('h2', { class: 'card-label' }, label), value, detail);
  };
  const coverageBar = h('span', { class: 'bar-fill' });
  const coverage = card('coverage', 'Coverage');
  coverage.append(h('div', { class: 'progress', role: 'presentation' }, coverageBar));
  const atRisk = h('p', { class: 'at-risk', id: 'at-risk', hidden: true });
  const summary = h('div', { class: 'cards' }, card('leader', 'Leader'), card('margin', 'Margin'), card('turnout', 'Turnout'), coverage);

  const partyRows = new Map();
  const partyList = h('ol', { class: 'parties', id: 'parties', style: { height: `${parties.length * 2}rem` } });
  for (const code of parties) {
    const votes = h('span', { class: 'party-votes num', 'data-testid': `votes-${code}` }, '0');
    const share = h('span', { class: 'party-share num' }, '–');
    const fill = h('span', { class: 'bar-fill' });
    const li = h('li', { class: 'party', 'data-party': code },
      h('abbr', { class: 'party-code', title: partyNames.get(code) }, code),
      h('span', { class: 'bar' }, fill), votes, share);
    partyRows.set(code, { li, votes, share, fill });
    partyList.append(li);
  }

  const flagCounts = new Map();
  const flagDl = h('dl', { class: 'flag-counts' });
  for (const [key, label] of [...FLAG_LABELS, ['cancelled', 'Cancelled units']]) {
    const dd = h('dd', { class: 'num', 'data-testid': `flag-${key}` }, '0');
    flagCounts.set(key, dd);
    flagDl.append(h('div', { class: 'flag-count' }, h('dt', {}, label), dd));
  }
  const flagList = h('ul', { class: 'flag-list', id: 'flag-list', 'aria-label': 'Areas with flags' });
  let flagListKey = null;

  const thead = h('tr');
  const tbody = h('tbody');
  const table = h('table', { class: 'children', id: 'children' }, h('caption', { id: 'children-caption' }, 'Children'), h('thead', {}, thead), tbody);
  const rowEls = new Map();
  let rowOrder = '';

  root.replaceChildren(
    crumbs, title, subtitle, message, atRisk, summary,
    h('div', { class: 'columns' },
      h('section', { class: 'panel', 'aria-labelledby': 'parties-h' }, h('h2', { id: 'parties-h' }, 'Party totals (counted units)'), partyList),
      h('section', { class: 'panel', 'aria-labelledby': 'flags-h' }, h('h2', { id: 'flags-h' }, 'Flags'), flagDl, flagList)),
    h('section', { class: 'panel', 'aria-labelledby': 'children-caption' }, h('div', { class: 'table-wrap' }, table)));

  const unsubscribe = store.subscribe(render);
  return () => unsubscribe();

  // ---- updates ----
  function render(state) {
    if (state.status === 'error') {
      setText(message, `Cannot show ${areaCode}: ${state.error.message}`);
      message.classList.add('error');
      return;
    }
    const doc = state.doc;
    if (!doc) return;
    setText(message, '');
    if (!lastDoc || lastDoc.area.code !== doc.area.code) buildStatic(doc);
    lastDoc = doc;
    onDoc?.(doc);
    const t = doc.totals;

    const r = race(parties, t.votes);
    setText(cards.leader.value, r.leader ? `${r.leader} ${num(r.top)}` : 'No counted units');
    setText(cards.leader.detail, r.leader ? `${partyNames.get(r.leader)} · ${pct(r.top, t.totalValid)} of valid votes` : '\u00a0');
    setText(cards.margin.value, r.leader ? num(r.margin) : '–');
    setText(cards.margin.detail, r.runnerUp ? `over ${r.runnerUp} · ${pct(r.margin, t.totalValid)} of valid votes` : '\u00a0');
    setText(cards.turnout.value, pct(t.totalCast, t.registeredCovered));
    setText(cards.turnout.detail, `${num(t.totalCast)} cast of ${num(t.registeredCovered)} registered in counted units`);
    setText(cards.coverage.value, `${num(t.units.counted)} / ${num(t.units.total)} units`);
    setText(cards.coverage.detail, `${num(t.registeredCovered)} of ${num(t.registeredVoters)} registered (${pct(t.registeredCovered, t.registeredVoters)}) · ${num(t.units.reported)} reported`);
    setBar(coverageBar, t.units.total ? t.units.counted / t.units.total : 0);
    atRisk.hidden = !doc.atRisk;
    setText(atRisk, doc.atRisk ? `At risk: registered voters of cancelled units (${num(t.registeredCancelled)}) are at least the margin (${num(r.margin)}).` : '');

    // Party totals, largest first; the list has a fixed height, rows only change order.
    const max = Math.max(1, ...t.votes);
    const order = parties.map((p, i) => i).sort((a, b) => t.votes[b] - t.votes[a] || a - b);
    order.forEach((i, rank) => {
      const row = partyRows.get(parties[i]);
      setText(row.votes, num(t.votes[i]));
      setText(row.share, pct(t.votes[i], t.totalValid));
      setBar(row.fill, t.votes[i] / max);
      if (partyList.children[rank] !== row.li) partyList.insertBefore(row.li, partyList.children[rank] ?? null);
    });

    for (const [key] of FLAG_LABELS) setText(flagCounts.get(key), num(t.flags[key]));
    setText(flagCounts.get('cancelled'), num(t.units.cancelled));

    const rows = withRaces(doc.rows);
    renderFlagList(doc, rows);
    renderTable(doc, rows);
  }

  function withRaces(docRows) {
    return docRows.map(row => {
      let r = races.get(row);
      if (!r) {
        r = { ...row, _race: race(parties, row.tally.votes), _source: row };
        races.set(row, r);
        names.set(row.code, row.name);
      }
      return r;
    });
  }

  function buildStatic(doc) {
    names.set(doc.area.code, doc.area.name);
    setText(title, doc.area.name);
    setText(subtitle, `${levelName(doc.area.level)} ${doc.area.code} · ${num(doc.area.registeredVoters)} registered voters · ${doc.rows.length} ${plural(doc.childLevel).toLowerCase().replace("lgas", "LGAs")}`);
    document.title = `${doc.area.name} · TPRCS`;
    renderCrumbs(doc);
    setText(table.querySelector('caption'), `${plural(doc.childLevel)} of ${doc.area.name}`);
    const unitLevel = doc.childLevel === election.levels[election.levels.length - 1];
    thead.replaceChildren(...COLUMNS.filter(c => !c.unitsOnly || unitLevel).map(c => {
      const button = h('button', { type: 'button', class: 'sort', 'data-sort': c.key }, c.label);
      button.addEventListener('click', () => {
        sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : (c.text ? 1 : -1) };
        renderTable(lastDoc, withRaces(lastDoc.rows));
      });
      return h('th', { scope: 'col', 'data-col': c.key, class: c.text ? '' : 'num' }, button);
    }));
    tbody.replaceChildren();
    rowEls.clear();
    rowOrder = '';
  }

  function renderCrumbs(doc) {
    const parts = doc.area.code.split('/');
    const links = [h('a', { href: '#/' }, 'Elections')];
    for (let i = 1; i <= parts.length; i++) {
      const code = parts.slice(0, i).join('/');
      const label = names.get(code) ?? code;
      links.push(i === parts.length
        ? h('span', { 'aria-current': 'page' }, label)
        : h('a', { href: `#/${election.id}/${code}` }, label));
    }
    crumbs.replaceChildren(...links.flatMap((l, i) => (i ? [h('span', { class: 'sep', 'aria-hidden': 'true' }, '›'), l] : [l])));
  }

  function renderFlagList(doc, rows) {
    const flagged = rows
      .map(r => ({ r, n: flagTotal(r.tally) + r.tally.units.cancelled }))
      .filter(x => x.n > 0 || (x.r.status && !['counted', 'missing'].includes(x.r.status)));
    const key = flagged.map(x => `${x.r.code}:${x.n}:${x.r.status}`).join('|');
    if (key === flagListKey) return;
    flagListKey = key;
    if (flagged.length === 0) {
      flagList.replaceChildren(h('li', { class: 'muted' }, 'No flags.'));
      return;
    }
    flagList.replaceChildren(...flagged.map(({ r }) => {
      const what = FLAG_LABELS.filter(([k]) => r.tally.flags[k] > 0).map(([k, label]) => `${label}: ${r.tally.flags[k]}`);
      if (r.tally.units.cancelled > 0) what.push(`cancelled: ${r.tally.units.cancelled}`);
      if (r.status && r.tally.units.total === 1) what.unshift(r.status);
      return h('li', {}, h('a', { href: `#/${election.id}/${r.code}` }, r.name), ' ', h('span', { class: 'muted' }, what.join(' · ')));
    }));
  }

  function renderTable(doc, rows) {
    const col = COLUMNS.find(c => c.key === sort.key) ?? COLUMNS[0];
    const sorted = rows.slice().sort((a, b) => {
      const va = col.value(a), vb = col.value(b);
      const c = col.text ? collator.compare(String(va), String(vb)) : va - vb;
      return c * sort.dir || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
    });
    for (const th of thead.children) setAttr(th, 'aria-sort', th.dataset.col === sort.key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    const unitLevel = thead.querySelector('[data-col="status"]') != null;
    for (const row of sorted) {
      let el = rowEls.get(row.code);
      if (!el) el = createRow(row, unitLevel);
      if (el.shown === row) continue;   // the same immutable row as last time: nothing to write
      el.shown = row;
      const t = row.tally;
      setText(el.counted, `${num(t.units.counted)}/${num(t.units.total)}`);
      setText(el.coverage, pct(t.registeredCovered, t.registeredVoters, 1));
      setText(el.cast, num(t.totalCast));
      setText(el.leader, row._race.leader ?? '–');
      setText(el.margin, row._race.leader ? num(row._race.margin) : '–');
      const flags = flagTotal(t) + t.units.cancelled;
      setText(el.flags, flags ? num(flags) : '');
      if (el.status) { setText(el.status, row.status ?? ''); setAttr(el.status, 'data-status', row.status); }
      setAttr(el.tr, 'data-version', row.version);
    }
    const order = sorted.map(r => r.code).join('|');
    if (order !== rowOrder) {
      rowOrder = order;
      sorted.forEach((r, i) => {
        const tr = rowEls.get(r.code).tr;
        if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
      });
    }
  }

  function createRow(row, unitLevel) {
    const td = cls => h('td', { class: cls });
    const el = {
      tr: h('tr', { 'data-code': row.code }),
      counted: td('num'), coverage: td('num'), cast: td('num'), leader: td(''), margin: td('num'), flags: td('num flags'),
      status: unitLevel ? h('td', { class: 'status' }) : null,
    };
    el.tr.append(h('th', { scope: 'row' }, h('a', { href: `#/${election.id}/${row.code}` }, row.name), h('span', { class: 'code' }, row.code)));
    if (el.status) el.tr.append(el.status);
    el.tr.append(el.counted, el.coverage, el.cast, el.leader, el.margin, el.flags);
    rowEls.set(row.code, el);
    return el;
  }
}

const cap = s => (s ? s[0].toUpperCase() + s.slice(1) : '');
const LEVEL_NAMES = { lga: 'LGA', 'polling-unit': 'Polling unit' };
const levelName = s => LEVEL_NAMES[s] ?? cap(s);
const plural = s => `${levelName(s)}s`;
