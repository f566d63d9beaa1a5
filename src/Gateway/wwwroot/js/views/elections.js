// The list of elections: the dashboard's start page.
import { listElections } from '../api.js';
import { h, num } from './dom.js';

export async function mountElections(root) {
  root.replaceChildren(h('h1', { class: 'area-title' }, 'Elections'), h('p', { class: 'message', role: 'status' }, 'Loading…'));
  document.title = 'Elections · TPRCS';
  const list = await listElections();
  root.replaceChildren(
    h('h1', { class: 'area-title' }, 'Elections'),
    h('ul', { class: 'elections', id: 'elections' }, ...list.map(e => h('li', { class: 'panel' },
      h('h2', {}, h('a', { href: `#/${e.id}`, 'data-election': e.id }, e.name)),
      h('p', { class: 'muted' }, `${e.contest} · ${num(e.pollingUnits)} polling units · ${num(e.registeredVoters)} registered voters · levels: ${e.levels.join(' → ')}`)))),
    h('p', {}, h('a', { href: '#/submit' }, 'Submit a result sheet (agents)')));
}
