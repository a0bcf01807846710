// The CloudEvents (1.0, JSON structured mode) of one run transition: pure, from the run and its
// tasks before and after. The run's `started` comes first, then task changes in pipeline order,
// then the run's end; each event gets its number and id later (record-run-events.ts). Only what
// Postgres already holds goes in `data` (statuses, outputs, errors), never a secret value.
import type { RunRow, TaskRunRow } from '../../schemas/database/index.js';
import type { RunTransition } from '../runs/index.js';

/** One event of a transition, before numbering. */
export interface PendingRunEvent {
  /** What `notify[].on` selects: `started`, `succeeded`, … or `task.<status>`. */
  on: string;
  /** The NATS subject after the prefix: `<pipeline>.<run>.<status>` or `<pipeline>.<run>.tasks.<task>.<status>`. */
  subject: string;
  /** The CloudEvent without `id` (added with its number). */
  event: Omit<CloudEvent, 'id'>;
}

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

const RUN_END = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);
/** Task statuses that are published (`pending` and `running` are not: `running` is set by workers outside the run's lock). */
const TASK_PUBLISHED = new Set(['queued', 'waiting_approval', 'succeeded', 'failed', 'skipped', 'cancelled', 'timed_out']);

/**
 * The events of `change`, in order. `server`: the `<server>` of `source` (`eventops/<server>/runs/<id>`);
 * `now`: the transition's time.
 */
export function runCloudEvents(change: RunTransition, server: string, now: Date): PendingRunEvent[] {
  const { run } = change;
  const out: PendingRunEvent[] = [];
  const base = { specversion: '1.0' as const, source: `eventops/${server}/runs/${run.id}`, time: now.toISOString(), datacontenttype: 'application/json' as const };
  const runData = (status: string) => runSummary(run, change.revision, status);
  if (change.before.status === 'pending' && run.status !== 'pending' && run.startedAt !== null) {
    out.push({ on: 'started', subject: `${run.pipeline}.${run.id}.started`, event: { ...base, type: 'dev.eventops.run.started', subject: 'run', data: { run: runData('running') } } });
  }
  const tasks = [...change.tasks.values()].sort((a, b) => (a.phase === b.phase ? a.position - b.position : a.phase === 'tasks' ? -1 : 1));
  for (const task of tasks) {
    const was = change.before.tasks.get(task.name);
    if (was && was.status === task.status && was.attempt === task.attempt) continue;
    if (!TASK_PUBLISHED.has(task.status)) continue;
    out.push({
      on: `task.${task.status}`,
      subject: `${run.pipeline}.${run.id}.tasks.${task.name}.${task.status}`,
      event: { ...base, type: `dev.eventops.task.${task.status}`, subject: `tasks/${task.name}`, data: { run: runData(run.status), task: taskSummary(task) } },
    });
  }
  if (RUN_END.has(run.status) && change.before.status !== run.status) {
    out.push({
      on: run.status,
      subject: `${run.pipeline}.${run.id}.${run.status}`,
      event: { ...base, type: `dev.eventops.run.${run.status}`, subject: 'run', data: { run: { ...runData(run.status), outputs: run.outputs }, tasks: tasks.map(taskSummary) } },
    });
  }
  return out;
}

/** The `task.started` event of a task a worker just took (`running`), outside any engine transition. */
export function taskStartedCloudEvent(run: RunRow, revision: string, task: TaskRunRow, server: string, now: Date): PendingRunEvent {
  return {
    on: 'task.started',
    subject: `${run.pipeline}.${run.id}.tasks.${task.name}.started`,
    event: {
      specversion: '1.0',
      source: `eventops/${server}/runs/${run.id}`,
      type: 'dev.eventops.task.started',
      subject: `tasks/${task.name}`,
      time: now.toISOString(),
      datacontenttype: 'application/json',
      data: { run: runSummary(run, revision, run.status), task: taskSummary(task) },
    },
  };
}

function runSummary(run: RunRow, revision: string, status: string): Record<string, unknown> {
  return {
    id: run.id,
    pipeline: run.pipeline,
    source: run.source,
    trigger: run.trigger,
    eventId: run.eventId,
    status,
    revision,
    ...(run.parentRunId ? { parentRunId: run.parentRunId, parentTask: run.parentTask } : {}),
    ...(run.error ? { error: run.error } : {}),
  };
}

function taskSummary(task: TaskRunRow): Record<string, unknown> {
  return {
    name: task.name,
    phase: task.phase,
    type: task.type,
    status: task.status,
    attempt: task.attempt,
    ...(task.actuator ? { actuator: task.actuator } : {}),
    ...(task.exitCode !== null ? { exitCode: task.exitCode } : {}),
    ...(task.status === 'succeeded' ? { outputs: task.outputs } : {}),
    ...(task.error ? { error: task.error } : {}),
    ...(task.skipReason ? { skipReason: task.skipReason } : {}),
  };
}
