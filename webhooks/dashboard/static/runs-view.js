// The runs list (`/`): the newest runs, read again every 1.5 s, so a new run and each change of
// status shows up without a reload. Rows are kept by run id and redrawn only when their run changed.
import { get } from './api.js';
import { ago, badge, elapsed, h, link, replace } from './dom.js';
import { poll } from './poll.js';

export async function runsView(main, _params, ctx) {
  const body = h('tbody');
  const status = h('span', { class: 'muted small live' }, 'loading…');
  const empty = h('p', { class: 'muted', hidden: true }, 'No runs yet. Runs appear here as events start them.');
  replace(
    main,
    h('div', { class: 'title' }, h('h1', {}, 'Runs'), status),
    h('table', { class: 'runs' }, h('thead', {}, h('tr', {}, ['Status', 'Pipeline', 'Trigger', 'Source', 'Created', 'Duration', 'Run'].map((t) => h('th', {}, t)))), body),
    empty,
  );
  const rows = new Map();
  await poll(ctx, 1500, async () => {
    const page = await get('/api/v1/runs?limit=50', ctx.signal);
    const seen = new Set();
    let previous = null;
    for (const run of page.runs) {
      seen.add(run.id);
      const key = JSON.stringify(run);
      let entry = rows.get(run.id);
      if (!entry || entry.key !== key || run.status === 'running') {
        const row = runRow(run);
        if (entry) entry.row.replaceWith(row);
        entry = { key, row };
        rows.set(run.id, entry);
      }
      // Keep the order of the answer: newest first.
      const want = previous ? previous.nextSibling : body.firstChild;
      if (want !== entry.row) body.insertBefore(entry.row, want);
      previous = entry.row;
    }
    for (const [id, entry] of rows) {
      if (!seen.has(id)) {
        entry.row.remove();
        rows.delete(id);
      }
    }
    empty.hidden = page.runs.length > 0;
    replace(status, `live · ${page.runs.length} newest · read ${new Date().toLocaleTimeString()}`);
  });
}

function runRow(run) {
  return h(
    'tr',
    { 'data-run': run.id, class: `st-row-${run.status}` },
    h('td', {}, badge(run.status)),
    h('td', {}, link(`/runs/${encodeURIComponent(run.id)}`, run.pipeline), run.parentRunId ? h('span', { class: 'muted small' }, ` (child of ${run.parentTask ?? 'a task'})`) : null),
    h('td', {}, run.trigger),
    h('td', {}, run.source),
    h('td', {}, ago(run.createdAt)),
    h('td', {}, elapsed(run.startedAt, run.finishedAt, run.durationMs)),
    h('td', { class: 'mono' }, link(`/runs/${encodeURIComponent(run.id)}`, run.id.slice(0, 8))),
  );
}
