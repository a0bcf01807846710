// Sources (`/sources`): each source's Ready state, conditions, active revision, and the errors
// and warnings of its newest revision at file:line:column, as `eventops validate` prints them.
// Read again every 3 s (a reconcile shows up without a reload).
import { get } from './api.js';
import { ago, badge, h, replace } from './dom.js';
import { poll } from './poll.js';

export async function sourcesView(main, _params, ctx) {
  const list = h('div', { class: 'sources' });
  const status = h('span', { class: 'muted small live' }, 'loading…');
  replace(main, h('div', { class: 'title' }, h('h1', {}, 'Sources'), status), list);
  await poll(ctx, 3000, async () => {
    const { items } = await get('/api/v1/sources', ctx.signal);
    const details = await Promise.all(items.map((src) => get(`/api/v1/sources/${encodeURIComponent(src.name)}`, ctx.signal)));
    replace(list, items.length === 0 ? h('p', { class: 'muted' }, 'No sources: add some under `sources` in eventops.yaml.') : details.map(sourceCard));
    replace(status, `read ${new Date().toLocaleTimeString()}`);
  });
}

function sourceCard(src) {
  const last = src.lastRevision;
  const findings = last ? [...(last.errors ?? []).map((f) => ({ ...f, severity: 'error' })), ...(last.warnings ?? []).map((f) => ({ ...f, severity: 'warning' }))] : [];
  return h(
    'section',
    { class: 'card', 'data-source': src.name },
    h('div', { class: 'title' }, h('h2', {}, src.name), badge(src.ready === 'True' ? 'ready' : src.ready === 'False' ? 'not_ready' : 'unknown')),
    h('p', { class: 'muted' }, `${src.type} · ${src.location}${src.ref ? ` @ ${src.ref}` : ''}${src.dir ? ` · ${src.dir}` : ''} · last attempt `, ago(src.lastAttemptAt)),
    h(
      'p',
      {},
      'Active revision: ',
      src.activeRevision ? [h('span', { class: 'mono' }, src.activeRevision.commit.slice(0, 19)), ` (${src.activeRevision.definitionCount} definitions, applied `, ago(src.activeRevision.appliedAt), ')'] : 'none yet',
    ),
    h(
      'table',
      { class: 'conditions' },
      h('thead', {}, h('tr', {}, ['Condition', 'Status', 'Reason', 'Message', 'Since'].map((t) => h('th', {}, t)))),
      h('tbody', {}, (src.conditions ?? []).map((c) => h('tr', {}, h('td', {}, c.type), h('td', {}, c.status), h('td', {}, c.reason), h('td', {}, c.message), h('td', {}, ago(c.lastTransitionTime))))),
    ),
    findings.length > 0
      ? [
          h('h3', {}, `Findings in revision ${String(last.commit).slice(0, 19)} (${last.status})`),
          h('ul', { class: 'findings' }, findings.map((f) => h('li', { class: f.severity }, h('span', { class: 'mono where' }, `${f.file}:${f.line}:${f.column}`), `: ${f.severity}: ${f.message}`, f.rule ? h('span', { class: 'muted' }, ` [${f.rule}]`) : null))),
        ]
      : null,
  );
}
