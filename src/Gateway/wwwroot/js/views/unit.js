// The polling-unit view: every copy submitted, with agent, time and version; fields where copies
// differ are highlighted. The unit's data comes from the HTTP API; it is fetched again whenever the
// parent ward's feed row for this unit changes version.

import { feedStore, feedId } from '../client.js';
import { getPollingUnit } from '../api.js';
import { h, setText, num, dateTime, time } from './dom.js';

export function mountUnit(root, { election, unitCode, names, onDoc }) {
  const parties = election.parties.map(p => p.code);
  const wardCode = unitCode.split('/').slice(0, -1).join('/');
  const title = h('h1', { id: 'unit-title', class: 'area-title' }, names.get(unitCode) ?? unitCode);
  const subtitle = h('p', { class: 'muted', id: 'unit-sub' }, '\u00a0');
  const crumbs = h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' });
  const statusLine = h('p', { id: 'unit-status', class: 'unit-status', role: 'status' }, 'Loading…');
  const result = h('section', { class: 'panel', 'aria-labelledby': 'result-h' }, h('h2', { id: 'result-h' }, 'Counted result'));
  const resultBody = h('div', { id: 'unit-result' }, h('p', { class: 'muted' }, 'No counted result.'));
  result.append(resultBody);
  const copies = h('section', { class: 'panel', 'aria-labelledby': 'copies-h' }, h('h2', { id: 'copies-h' }, 'Copies submitted'));
  const copiesBody = h('div', { class: 'table-wrap', id: 'unit-copies' }, h('p', { class: 'muted' }, 'No sheet received yet.'));
  copies.append(copiesBody);
  root.replaceChildren(crumbs, title, subtitle, statusLine, result, copies);
  renderCrumbs();

  let fetchedVersion = null;
  let wantedVersion = null;
  let inFlight = false;
  let closed = false;

  // The ward's feed tells us when the unit changed; we never poll.
  const unsubscribe = feedStore(feedId(election.id, wardCode)).subscribe(state => {
    if (!state.doc) {
      if (state.status === 'error') setText(statusLine, state.error.message);
      return;
    }
    onDoc?.(state.doc);
    names.set(state.doc.area.code, state.doc.area.name);
    const row = state.doc.rows.find(r => r.code === unitCode);
    if (!row) { setText(statusLine, `${unitCode} is not a polling unit of ${state.doc.area.name}.`); return; }
    names.set(unitCode, row.name);
    renderCrumbs();
    wantedVersion = row.version;
    if (row.version !== fetchedVersion) refresh();
  });
  return () => { closed = true; unsubscribe(); };

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    try {
      while (!closed && wantedVersion !== fetchedVersion) {
        const target = wantedVersion;
        const unit = await getPollingUnit(election.id, unitCode);
        if (closed) return;
        fetchedVersion = target;
        render(unit);
      }
    } catch (e) {
      setText(statusLine, `Could not load ${unitCode}: ${e.message}`);
    } finally {
      inFlight = false;
    }
  }

  function renderCrumbs() {
    const parts = unitCode.split('/');
    const links = [h('a', { href: '#/' }, 'Elections')];
    for (let i = 1; i <= parts.length; i++) {
      const code = parts.slice(0, i).join('/');
      const label = names.get(code) ?? code;
      links.push(i === parts.length ? h('span', { 'aria-current': 'page' }, label) : h('a', { href: `#/${election.id}/${code}` }, label));
    }
    crumbs.replaceChildren(...links.flatMap((l, i) => (i ? [h('span', { class: 'sep', 'aria-hidden': 'true' }, '›'), l] : [l])));
  }

  function render(unit) {
    setText(title, unit.unit.name);
    document.title = `${unit.unit.name} · TPRCS`;
    setText(subtitle, `Polling unit ${unit.unit.code} · ${num(unit.unit.registeredVoters)} registered voters`);
    const flags = unit.flags.length ? ` · flags: ${unit.flags.join(', ')}` : '';
    setText(statusLine, `Status: ${unit.status} · version ${unit.version}${flags} · fetched ${time(Date.now())}`);
    statusLine.dataset.status = unit.status;
    statusLine.dataset.version = unit.version;

    resultBody.replaceChildren(unit.result ? figuresTable(unit.result) : h('p', { class: 'muted' }, 'No counted result.'));

    if (unit.copies.length === 0) {
      copiesBody.replaceChildren(h('p', { class: 'muted' }, 'No sheet received yet.'));
      return;
    }
    const fields = fieldList(unit.copies.map(c => c.sheet));
    const conflict = new Set(unit.conflictFields);
    const head = h('tr', {}, h('th', { scope: 'col' }, 'Field'), ...unit.copies.map(c => h('th', { scope: 'col', class: 'num' },
      h('div', {}, `v${c.version}`, c.replaces ? ` (replaces v${c.replaces})` : ''),
      h('div', { class: 'copy-meta' }, c.agent),
      h('div', { class: 'copy-meta' }, h('time', { datetime: c.receivedAt }, dateTime(c.receivedAt))),
      c.flags.length ? h('div', { class: 'copy-flags' }, c.flags.join(', ')) : null)));
    const body = fields.map(([field, get]) => {
      const values = unit.copies.map(c => get(c.sheet));
      const differs = new Set(values.map(v => v ?? '')).size > 1 || conflict.has(field);
      return h('tr', { class: differs ? 'differs' : '', 'data-field': field },
        h('th', { scope: 'row' }, field, differs ? h('span', { class: 'diff-mark' }, ' differs') : null),
        ...values.map(v => h('td', { class: 'num' }, v == null ? '–' : num(v))));
    });
    copiesBody.replaceChildren(h('table', { class: 'copies', id: 'copies-table' },
      h('caption', {}, `${unit.copies.length} cop${unit.copies.length === 1 ? 'y' : 'ies'}; fields that differ are highlighted`),
      h('thead', {}, head), h('tbody', {}, ...body)));
  }

  function figuresTable(sheet) {
    return h('table', { class: 'figures' }, h('tbody', {}, ...fieldList([sheet]).map(([field, get]) =>
      h('tr', {}, h('th', { scope: 'row' }, field), h('td', { class: 'num' }, get(sheet) == null ? '–' : num(get(sheet)))))));
  }

  function fieldList(sheets) {
    const list = [
      ['registeredVoters', s => s.registeredVoters],
      ['accreditedVoters', s => s.accreditedVoters],
    ];
    if (sheets.some(s => s.ballots)) {
      list.push(['ballots.issued', s => s.ballots?.issued], ['ballots.spoilt', s => s.ballots?.spoilt], ['ballots.unused', s => s.ballots?.unused]);
    }
    list.push(['rejected', s => s.rejected]);
    for (const p of parties) list.push([`votes.${p}`, s => s.votes?.[p] ?? 0]);
    list.push(['totalValid', s => s.totalValid], ['totalCast', s => s.totalCast]);
    return list;
  }
}
