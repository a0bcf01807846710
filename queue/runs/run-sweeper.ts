// No run stays running forever. The run sweeper looks at the stored state (the truth; queues
// carry only ids) and repairs what a crash, a lost job or a flushed Redis left behind:
// - a running attempt whose lease ran out (its worker died): recorded as failed, so the task's
//   `retries` decide what follows;
// - a queued task whose job may be gone: enqueued again (job ids are deterministic), at most once
//   per grace period;
// - a pending run nobody started: started (or left waiting for its concurrency group);
// - a `pipeline` task whose child run ended: completed from the child;
// - a run past its deadline whose timeout job was lost: stopped as timed out.
import { and, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { runs, taskRuns, type Db } from '../../schemas/database/index.js';
import type { Job, RunEngine } from './run-engine.js';

export interface RunSweepDeps {
  db: Db;
  engine: RunEngine;
  enqueue(jobs: readonly Job[]): Promise<void>;
  /** Grace before a queued task or a pending run counts as forgotten. */
  olderThanMs: number;
}

export interface RunSweep {
  lost: number;
  requeued: number;
  started: number;
  children: number;
  timedOut: number;
}

export async function sweepRuns(deps: RunSweepDeps): Promise<RunSweep> {
  const { db, engine } = deps;
  const before = sql`now() - ${deps.olderThanMs}::double precision * interval '1 millisecond'`;
  const result: RunSweep = { lost: 0, requeued: 0, started: 0, children: 0, timedOut: 0 };

  const lost = await db
    .select({ runId: taskRuns.runId, name: taskRuns.name, attempt: taskRuns.attempt, worker: taskRuns.worker })
    .from(taskRuns)
    .where(and(eq(taskRuns.status, 'running'), isNull(taskRuns.childRunId), lt(taskRuns.leaseUntil, sql`now()`)))
    .limit(500);
  for (const t of lost) {
    const error = `the worker running attempt ${t.attempt} (${t.worker ?? 'unknown'}) stopped renewing its lease: taken as lost`;
    if (await engine.completeTask(t.runId, t.name, t.attempt, { status: 'failed', exitCode: null, outputs: {}, error })) result.lost++;
  }

  // Marked as looked at (updated_at = now) in the same statement: a task waiting behind a long
  // queue is enqueued again once per `olderThanMs` by one sweeper, not on every sweep by every one.
  const queued = (
    (await db.execute(sql`update task_runs t set updated_at = now()
      from (select run_id, name from task_runs
            where status = 'queued' and updated_at < ${before} and (not_before is null or not_before < now())
            order by updated_at limit 1000 for update skip locked) q
      where t.run_id = q.run_id and t.name = q.name and t.status = 'queued'
      returning t.run_id as "runId", t.name, t.attempt`)) as unknown as { rows: { runId: string; name: string; attempt: number }[] }
  ).rows;
  if (queued.length > 0) {
    await deps.enqueue(queued.map((t) => ({ queue: 'tasks', job: 'run-task', payload: { runId: t.runId, task: t.name, attempt: t.attempt } })));
    result.requeued = queued.length;
  }

  const pending = await db.select({ id: runs.id }).from(runs).where(and(eq(runs.status, 'pending'), lt(runs.createdAt, before))).limit(500);
  for (const r of pending) {
    await engine.startRun(r.id);
    result.started++;
  }

  const parents = await db
    .select({ child: taskRuns.childRunId })
    .from(taskRuns)
    .innerJoin(runs, eq(runs.id, taskRuns.childRunId))
    .where(and(eq(taskRuns.status, 'running'), isNotNull(taskRuns.childRunId), inArray(runs.status, ['succeeded', 'failed', 'cancelled', 'timed_out'])))
    .limit(500);
  for (const p of parents) {
    await engine.completeChild(p.child as string);
    result.children++;
  }

  const late = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.status, 'running'), isNull(runs.stopRequested), lt(runs.deadlineAt, sql`now()`)))
    .limit(500);
  for (const r of late) {
    await engine.stopRun(r.id, 'timed_out', 'the run timed out');
    result.timedOut++;
  }
  return result;
}

/** Sweeps at once, then every `intervalMs`, until stopped. */
export function startRunSweeper(deps: RunSweepDeps & { intervalMs: number; onError(error: unknown): void; onSwept?(sweep: RunSweep): void }): () => Promise<void> {
  let current: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    current = sweepRuns(deps)
      .then((sweep) => {
        if (Object.values(sweep).some((n) => n > 0)) deps.onSwept?.(sweep);
      })
      .catch(deps.onError);
  };
  tick();
  const timer = setInterval(() => {
    if (!stopped) void current.then(tick);
  }, deps.intervalMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await current;
  };
}
