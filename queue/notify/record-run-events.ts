// Stores the CloudEvents of runs as they happen. `recordRunEvents` is the run engine's
// `onTransition`: in the transition's own transaction (under the run's lock) the events of the
// change are numbered after the run's last one and stored in `run_events`. `recordTaskStarted`
// does the same, under the same lock, for a task a worker just took. Each returns one
// `publish-run-events` job to enqueue after the commit. So every committed change has its events,
// numbered in the order the changes happened.
import { and, eq, sql } from 'drizzle-orm';
import { runEvents, runs, taskRuns, type Db, type RunRow } from '../../schemas/database/index.js';
import type { DefinitionsAtRevision, Job, RunTransition, Tx } from '../runs/index.js';
import { runCloudEvents, taskStartedCloudEvent, type PendingRunEvent } from './run-cloud-events.js';

export interface RecordOptions {
  /** The `<server>` of the events' `source`. */
  server: string;
  /** Whether the run's events go anywhere: nothing is written for runs that have no sink. */
  wants(run: RunRow, via: Pick<Db, 'select'>): Promise<boolean>;
  /** The clock; default `new Date()`. */
  now?: () => Date;
}

/** The engine's `onTransition`. */
export function recordRunEvents(options: RecordOptions): (tx: Tx, change: RunTransition) => Promise<Job[]> {
  const now = options.now ?? (() => new Date());
  return async (tx, change) => {
    if (!(await options.wants(change.run, tx))) return [];
    return append(tx, change.run.id, runCloudEvents(change, options.server, now()));
  };
}

/** For workers: records `task.started` of `attempt` of `task` if it is still that attempt and running. */
export function recordTaskStarted(db: Db, definitions: DefinitionsAtRevision, options: RecordOptions): (known: RunRow, task: string, attempt: number) => Promise<Job[]> {
  const now = options.now ?? (() => new Date());
  return async (known, task, attempt) => {
    // Runs whose events go nowhere cost no transaction.
    if (!(await options.wants(known, db))) return [];
    const runId = known.id;
    return db.transaction(async (tx) => {
      // The run's lock orders this event with the engine's transitions of the run.
      const [run] = await tx.select().from(runs).where(eq(runs.id, runId)).for('update');
      if (!run) return [];
      const [row] = await tx.select().from(taskRuns).where(and(eq(taskRuns.runId, runId), eq(taskRuns.name, task)));
      if (!row || row.status !== 'running' || row.attempt !== attempt) return [];
      const { commit } = await definitions.get(run.source, run.revisionId, tx);
      return append(tx, runId, [taskStartedCloudEvent(run, commit, row, options.server, now())]);
    });
  };
}

async function append(tx: Tx, runId: string, pending: readonly PendingRunEvent[]): Promise<Job[]> {
  if (pending.length === 0) return [];
  const [last] = await tx.select({ seq: sql<number>`coalesce(max(${runEvents.seq}), 0)::int` }).from(runEvents).where(eq(runEvents.runId, runId));
  const first = Number(last?.seq ?? 0) + 1;
  const rows = pending.map((p, i) => ({ runId, seq: first + i, on: p.on, subject: p.subject, event: { ...p.event, id: `${runId}.${first + i}` } }));
  await tx.insert(runEvents).values(rows);
  return [{ queue: 'reports', job: 'publish-run-events', payload: { runId, seq: first + rows.length - 1 } }];
}
