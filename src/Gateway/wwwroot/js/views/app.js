// The dashboard shell: hash routes, the connection indicator and the time of the last update.
//   #/                          elections
//   #/{election}                the root area
//   #/{election}/{area code}    an area (state, LGA, ward...) or, at the last level, a polling unit
//   #/submit                    the agents' sheet form

import { connectionStore } from '../client.js';
import { getElection } from '../api.js';
import { h, setText, setAttr, time } from './dom.js';
import { mountArea } from './area.js';
import { mountUnit } from './unit.js';
import { mountElections } from './elections.js';
import { mountForm } from '../form.js';

const names = new Map();   // area code -> name, learned from every document seen

export function start({ main, conn, stale, lastUpdate }) {
  let destroy = null;
  let generation = 0;
  let lastDocAt = null;

  // Connection indicator: text in place, fixed width, refreshed each second for the countdown.
  let status = connectionStore().getSnapshot();
  connectionStore().subscribe(s => { status = s; paintStatus(); });
  setInterval(paintStatus, 1000);

  function paintStatus() {
    const s = status;
    let text;
    if (s.state === 'live') text = 'Live';
    else if (s.state === 'waiting') text = `Reconnecting in ${Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000))} s`;
    else if (s.since) text = 'Reconnecting…';
    else if (s.state === 'idle') text = 'Idle';
    else text = 'Connecting…';
    setText(conn, text);
    setAttr(conn, 'data-state', s.state === 'live' ? 'live' : s.since ? 'reconnecting' : s.state);
    setAttr(conn, 'data-connection-id', s.connectionId ?? '');
    setAttr(conn, 'data-mode', s.mode ?? '');
    setAttr(conn, 'data-ports', s.ports ?? '');
    setText(stale, s.state !== 'live' && s.since ? `Stale since ${time(s.since)}` : '');
    setText(lastUpdate, lastDocAt ? `Last update ${time(lastDocAt)}` : '');
  }

  const onDoc = doc => {
    const at = Date.parse(doc.updatedAt);
    if (at && at !== lastDocAt) { lastDocAt = at; setText(lastUpdate, `Last update ${time(at)}`); }
  };

  async function route() {
    const gen = ++generation;
    if (destroy) { destroy(); destroy = null; }
    const path = decodeURIComponent(location.hash.replace(/^#\/?/, '')).replace(/\/+$/, '');
    const [electionId, ...rest] = path ? path.split('/') : [];
    try {
      if (!electionId) { await mountElections(main); return; }
      if (electionId === 'submit') { destroy = await mountForm(main, { electionId: rest[0] }); return; }
      const election = await getElection(electionId);
      if (gen !== generation) return;
      const code = rest.length ? rest.join('/') : election.rootArea;
      const isUnit = rest.length > 0 && rest.length >= election.levels.length;
      destroy = isUnit
        ? mountUnit(main, { election, unitCode: code, names, onDoc })
        : mountArea(main, { election, areaCode: code, names, onDoc });
      main.focus({ preventScroll: true });
    } catch (e) {
      if (gen !== generation) return;
      main.replaceChildren(h('h1', { class: 'area-title' }, 'Not available'),
        h('p', { class: 'message error', role: 'alert' }, e.message), h('p', {}, h('a', { href: '#/' }, 'Back to the elections')));
    }
  }

  addEventListener('hashchange', route);
  route();
}
