// A run (`/runs/<id>`, where check runs link to): its state, its DAG, its tasks with states and
// durations, and its log streaming live (GET /api/v1/runs/:id/logs?follow=1). The run is read
// again every second until it has ended; the log stream ends by itself when the run has.
import { follow, get } from './api.js';
import { dagSvg } from './dag.js';
import { ago, badge, elapsed, h, link, replace } from './dom.js';
import { poll } from './poll.js';

const FINISHED = ['succeeded', 'failed', 'cancelled', 'timed_out'];
/** Lines kept in the page: a long log keeps its end. */
const MAX_LINES = 5000;

export async function runView(main, [id], ctx) {
  const head = h('div', { class: 'run-head' });
  const graph = h('div', { class: 'graph' });
  const tasksBody = h('tbody');
  const logTitle = h('h2', {}, 'Log');
  const logState = h('span', { class: 'muted small' }, 'connecting…');
  const log = h('pre', { class: 'log', 'aria-live': 'polite' });
  replace(
    main,
    head,
    h('h2', {}, 'Tasks'),
    graph,
    h('table', { class: 'tasks' }, h('thead', {}, h('tr', {}, ['Task', 'Phase', 'Needs', 'Status', 'Attempt', 'Duration', 'Actuator', 'Exit', 'Note'].map((t) => h('th', {}, t)))), tasksBody),
    h('div', { class: 'title' }, logTitle, logState),
    log,
  );
  let selected = null;
  let run;
  const lines = [];

  const drawLog = () => {
    replace(logTitle, selected ? `Log of ${selected} ` : 'Log ', selected ? h('button', { type: 'button', class: 'linkish', onclick: () => select(null) }, '(all tasks)') : null);
    const shown = selected ? lines.filter((l) => l.task === selected) : lines;
    replace(log, shown.length === 0 ? h('span', { class: 'muted' }, 'No lines yet.') : shown.map(logLine));
  };
  const drawRun = () => {
    if (!run) return;
    drawHead(head, run);
    replace(graph, run.tasks.length > 0 ? dagSvg(run.tasks, selected, select) : h('p', { class: 'muted' }, run.status === 'pending' ? 'The run has not started: its tasks appear when it does.' : 'This run has no tasks.'));
    replace(tasksBody, run.tasks.map((t) => taskRow(t, t.name === selected, select)));
  };
  function select(name) {
    selected = name === selected ? null : name;
    drawRun();
    drawLog();
  }

  // The log: every task's lines as they are written; a selected task filters them in the page.
  const following = follow(`/api/v1/runs/${encodeURIComponent(id)}/logs?follow=1`, {
    signal: ctx.signal,
    onState: (state) => replace(logState, state),
    onEvent: (type, data) => {
      if (type === 'line') {
        const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 30;
        lines.push(data);
        if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
        if (!selected || data.task === selected) {
          if (log.firstChild?.classList?.contains('muted')) log.replaceChildren();
          log.appendChild(logLine(data));
        }
        if (stick) log.scrollTop = log.scrollHeight;
      } else if (type === 'end') {
        replace(logState, `ended: the run ${data.status}`);
      } else if (type === 'error') {
        replace(logState, `the server failed while following: ${data.message ?? ''}`);
      }
    },
  }).catch(ctx.fail);

  drawLog();
  await poll(ctx, 1000, async () => {
    run = await get(`/api/v1/runs/${encodeURIComponent(id)}`, ctx.signal);
    drawRun();
    return !FINISHED.includes(run.status);
  });
  await following;
}

function drawHead(head, run) {
  replace(
    head,
    h('div', { class: 'title' }, h('h1', {}, 'Run of ', h('span', { class: 'mono' }, run.pipeline)), badge(run.status)),
    h(
      'dl',
      { class: 'facts' },
      fact('Run', h('span', { class: 'mono' }, run.id)),
      fact('Trigger', `${run.source}/${run.trigger}`),
      fact('Event', link(`/events/${encodeURIComponent(run.eventId)}`, run.eventId)),
      run.parentRunId ? fact('Parent', link(`/runs/${encodeURIComponent(run.parentRunId)}`, `${run.parentRunId} (task ${run.parentTask ?? '?'})`)) : null,
      fact('Revision', h('span', { class: 'mono' }, String(run.revision ?? run.revisionId).slice(0, 19))),
      fact('Created', ago(run.createdAt)),
      fact('Duration', elapsed(run.startedAt, run.finishedAt, run.durationMs)),
      run.stopRequested ? fact('Stop requested', run.stopRequested) : null,
      run.error ? fact('Error', h('span', { class: 'error' }, run.error)) : null,
      fact('Inputs', inputsList(run.inputs)),
    ),
    run.children?.length ? h('p', {}, 'Child runs: ', run.children.map((c) => [link(`/runs/${encodeURIComponent(c.id)}`, `${c.pipeline} (${c.parentTask})`), ' ', badge(c.status), ' '])) : null,
  );
}

function inputsList(inputs) {
  const entries = Object.entries(inputs && typeof inputs === 'object' ? inputs : {});
  if (entries.length === 0) return '-';
  return entries.map(([name, value]) => h('div', { class: 'mono' }, `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`));
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}

function taskRow(t, isSelected, select) {
  const note = t.error ?? (t.skipReason ? `skipped: ${t.skipReason}` : null) ?? (t.decision ? `${t.decision} by ${t.decidedBy}` : null);
  return h(
    'tr',
    { 'data-task': t.name, class: isSelected ? 'selected' : null },
    h('td', {}, h('button', { type: 'button', class: 'linkish', onclick: () => select(t.name) }, t.name), t.childRunId ? [' ', link(`/runs/${encodeURIComponent(t.childRunId)}`, '(child run)')] : null),
    h('td', {}, t.phase),
    h('td', {}, (t.needs ?? []).join(', ') || '-'),
    h('td', {}, badge(t.status)),
    h('td', {}, String(t.attempt)),
    h('td', {}, elapsed(t.startedAt, t.finishedAt, t.durationMs)),
    h('td', {}, t.actuator ?? '-'),
    h('td', {}, t.exitCode ?? '-'),
    h('td', { class: 'note' }, note ?? ''),
  );
}

function logLine(line) {
  return h('div', { class: `line ${line.stream}` }, h('span', { class: 'muted' }, `${line.at.slice(11, 23)} ${line.task}#${line.attempt} `), line.text);
}
