// How `eventops runs` prints for people: the list as a table, one run as a block with a table of
// its tasks, and log lines as `HH:MM:SS.mmm task | text` (times in UTC, like the API's). Pure
// functions over the API's JSON and the current time.
import type { LogLineItem, RunDetail, RunSummary, TaskItem } from '../../webhooks/index.js';
import { formatAge, formatTable, shortRevision } from './sources-format.js';

const ERROR_WIDTH = 60;

/** `850ms`, `12.3s`, `4m05s`, `2h03m`; `-` without one. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
}

/** The status, with what it is becoming while a stop is under way (`running (cancelling)`). */
function statusOf(status: string, stopRequested?: string | null): string {
  if (stopRequested && (status === 'running' || status === 'pending')) return `${status} (${stopRequested === 'timed_out' ? 'timing out' : 'cancelling'})`;
  return status;
}

/** A run still going shows how long it has been going. */
function durationOf(r: Pick<RunSummary, 'durationMs' | 'startedAt' | 'finishedAt'>, nowMs: number): string {
  if (r.durationMs !== null) return formatDuration(r.durationMs);
  if (r.startedAt && !r.finishedAt) return `${formatDuration(Math.max(0, nowMs - Date.parse(r.startedAt)))}…`;
  return '-';
}

function oneLine(text: string | null, width = ERROR_WIDTH): string {
  if (!text) return '';
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

export function formatRunList(runs: readonly RunSummary[], nowMs: number): string {
  if (runs.length === 0) return 'no runs\n';
  const rows = runs.map((r) => [r.id, r.parentRunId ? `${r.pipeline} (child)` : r.pipeline, r.status, r.trigger, formatAge(r.createdAt, nowMs), durationOf(r, nowMs), oneLine(r.error)]);
  return formatTable(['ID', 'PIPELINE', 'STATUS', 'TRIGGER', 'CREATED', 'DURATION', 'ERROR'], rows);
}

export function formatRunDetail(r: RunDetail, nowMs: number): string {
  const out: string[] = [];
  const field = (label: string, value: string) => out.push(`${`${label}:`.padEnd(10)}${value}`);
  field('Run', r.id);
  field('Pipeline', r.pipeline);
  field('Status', statusOf(r.status, r.stopRequested));
  if (r.error) field('Error', r.error);
  field('Trigger', `${r.trigger} (source ${r.source}, revision ${r.revision ? shortRevision(r.revision) : r.revisionId})`);
  field('Event', r.eventId);
  if (r.parentRunId) field('Parent', `run ${r.parentRunId}, task ${r.parentTask ?? '?'}`);
  field('Created', `${r.createdAt} (${formatAge(r.createdAt, nowMs)})`);
  if (r.startedAt) field('Started', r.startedAt);
  if (r.finishedAt) field('Finished', r.finishedAt);
  field('Duration', durationOf(r, nowMs));
  if (r.concurrencyGroup) field('Group', r.concurrencyGroup);
  if (hasKeys(r.inputs)) field('Inputs', JSON.stringify(r.inputs));
  if (hasKeys(r.outputs)) field('Outputs', JSON.stringify(r.outputs));
  out.push('');
  if (r.tasks.length === 0) out.push(r.status === 'pending' ? 'No tasks yet: the run has not started.' : 'No tasks.');
  else {
    out.push('Tasks:');
    out.push(...indent(formatTable(['TASK', 'STATUS', 'ATTEMPT', 'DURATION', 'ACTUATOR', 'ERROR'], r.tasks.map(taskRow))));
  }
  if (r.children.length > 0) {
    out.push('', 'Child runs:');
    out.push(...indent(formatTable(['RUN', 'TASK', 'PIPELINE', 'STATUS'], r.children.map((c) => [c.id, c.parentTask ?? '-', c.pipeline, c.status]))));
  }
  return `${out.join('\n')}\n`;
}

function taskRow(t: TaskItem): string[] {
  const name = t.phase === 'finally' ? `${t.name} (finally)` : t.name;
  let status = t.status;
  if (t.decision) status = `${status} (${t.decision === 'approve' ? 'approved' : 'rejected'} by ${t.decidedBy ?? '?'})`;
  else if (t.status === 'skipped' && t.skipReason) status = `skipped (${t.skipReason === 'condition' ? 'if was false' : 'a need did not succeed'})`;
  // A `pipeline` task runs as a child run: that is where it ran (its full id is under Child runs).
  const where = t.actuator ?? (t.childRunId ? `run ${t.childRunId.slice(0, 8)}` : '-');
  return [name, status, t.attempt > 0 ? String(t.attempt) : '-', formatDuration(t.durationMs), where, oneLine(t.error)];
}

/** The mark between task and text: `|` for stdout, `!` for stderr, `*` for what eventops itself says. */
export function streamMark(stream: string): string {
  return stream === 'stderr' ? '!' : stream === 'system' ? '*' : '|';
}

/** `10:02:06.000 build   | compiling`; `taskWidth` aligns the texts; an attempt after the first is shown (`build#2`). */
export function formatLogLine(line: LogLineItem, taskWidth = 0): string {
  const time = /T(\d{2}:\d{2}:\d{2}\.\d{3})/.exec(line.at)?.[1] ?? line.at;
  const task = line.attempt > 1 ? `${line.task}#${line.attempt}` : line.task;
  return `${time} ${task.padEnd(taskWidth)} ${streamMark(line.stream)} ${line.text}\n`;
}

function hasKeys(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length > 0;
}

function indent(block: string): string[] {
  return block
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);
}
