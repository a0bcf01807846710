// Events: the newest events (`/events`, read every 2 s) and one event (`/events/<id>`) with why
// each trigger matched or not (its verdict, reason and every filter evaluated), the runs it
// started, and its data. Event data is untrusted: it is only ever shown as text.
import { get } from './api.js';
import { ago, badge, h, link, replace } from './dom.js';
import { poll } from './poll.js';

export async function eventsView(main, _params, ctx) {
  const body = h('tbody');
  const status = h('span', { class: 'muted small live' }, 'loading…');
  replace(
    main,
    h('div', { class: 'title' }, h('h1', {}, 'Events'), status),
    h('table', { class: 'events' }, h('thead', {}, h('tr', {}, ['Status', 'Source', 'Type', 'Subject', 'Received', 'Event'].map((t) => h('th', {}, t)))), body),
  );
  await poll(ctx, 2000, async () => {
    const { items } = await get('/api/v1/events?limit=50', ctx.signal);
    replace(
      body,
      items.map((e) =>
        h(
          'tr',
          { 'data-event': e.id },
          h('td', {}, badge(e.status)),
          h('td', {}, e.source),
          h('td', {}, link(`/events/${encodeURIComponent(e.id)}`, e.action ? `${e.type}.${e.action}` : e.type)),
          h('td', {}, e.subject ?? ''),
          h('td', {}, ago(e.receivedAt)),
          h('td', { class: 'mono' }, link(`/events/${encodeURIComponent(e.id)}`, e.id.slice(0, 8))),
        ),
      ),
    );
    replace(status, items.length === 0 ? 'no events yet' : `live · read ${new Date().toLocaleTimeString()}`);
  });
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

export async function eventView(main, [id], ctx) {
  await poll(ctx, 1500, async () => {
    const e = await get(`/api/v1/events/${encodeURIComponent(id)}`, ctx.signal);
    draw(main, e);
    // Matching happens once; after it only its runs' states change, so stop once they are final.
    const running = (e.runs ?? []).some((r) => !FINAL.has(r.status));
    return e.status === 'received' || running;
  });
}

function draw(main, e) {
  const verdicts = Array.isArray(e.verdicts) ? e.verdicts : [];
  replace(
    main,
    h('div', { class: 'title' }, h('h1', {}, 'Event ', h('span', { class: 'mono' }, e.type)), badge(e.status)),
    h(
      'dl',
      { class: 'facts' },
      [
        ['Id', e.id],
        ['Source', e.source],
        ['Subject', e.subject ?? '-'],
        ['Action', e.action ?? '-'],
        ['Delivery', e.deliveryId ?? '-'],
      ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      h('dt', {}, 'Received'),
      h('dd', {}, ago(e.receivedAt)),
    ),
    h('h2', {}, 'Why each trigger matched or not'),
    verdicts.length === 0
      ? h('p', { class: 'muted' }, e.status === 'received' ? 'Not matched yet.' : 'No trigger listens to this source and type.')
      : h(
          'table',
          { class: 'verdicts' },
          h('thead', {}, h('tr', {}, ['Trigger', 'Verdict', 'Why', 'Filters'].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            verdicts.map((v) =>
              h(
                'tr',
                { 'data-trigger': `${v.source}/${v.trigger}` },
                h('td', {}, `${v.source}/${v.trigger}`),
                h('td', {}, badge(v.verdict)),
                h('td', {}, v.reason ?? ''),
                h('td', {}, (v.filters ?? []).length === 0 ? '-' : h('ul', { class: 'filters' }, v.filters.map((f) => h('li', { class: f.holds ? 'holds' : 'fails' }, f.holds ? '✓ ' : '✗ ', f.reason)))),
              ),
            ),
          ),
        ),
    h('h2', {}, 'Runs it started'),
    (e.runs ?? []).length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : h('ul', {}, e.runs.map((r) => h('li', {}, link(`/runs/${encodeURIComponent(r.id)}`, `${r.source}/${r.pipeline}`), ' ', badge(r.status), h('span', { class: 'muted' }, ` by ${r.trigger}`)))),
    h('h2', {}, 'Data'),
    h('pre', { class: 'data' }, JSON.stringify({ headers: e.headers, labels: e.labels, body: e.body }, null, 2)),
  );
}
