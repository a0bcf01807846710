// No run stays running forever. The run sweeper looks at the stored state (the truth; queues
// carry only ids) and repairs what a crash, a lost job or a flushed Redis left behind:
// - a running attempt whose lease ran out (its worker died): recorded as failed, so the task's
//   `retries` decide what follows;
// - a queued task whose job may be gone: enqueued again (job ids are deterministic), at most once
//   per grace period;
// - a pending run nobody started: started (or left waiting for its concurrency group);
// - a `pipeline` task whose child run ended: completed from the child;
// - a run past its deadline whose timeout job was lost: stopped as timed out;
// - a run changed a day ago or less whose follow-up jobs were lost: what GitHub shows of it
//   (`report-run`) behind its latest version, or CloudEvents of it (`run_events`) a sink has not
//   been sent. Their job ids are deterministic and both drivers keep finished ids for a day, so
//   a job that exists, ran, or gave up (its retries spent) is not added again.
import { and, eq, inArray, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { runs, taskRuns, type Db } from '../../schemas/database/index.js';
import type { Job, RunEngine } from './run-engine.js';

export interface RunSweepDeps {
  db: Db;
  engine: RunEngine;
  /** Adds jobs; when it says which were added (a driver's `enqueueMany`), only those are counted. */
  enqueue(jobs: readonly Job[]): Promise<void | readonly { added: boolean }[]>;
  /** Grace before a queued task or a pending run counts as forgotten. */
  olderThanMs: number;
  /** The report jobs of a run at `version` (GitHub's `reportJobs`); without it (GitHub not configured) reports are not swept. */
  reportJobs?(run: { id: string; version: string }): Job[];
}

export interface RunSweep {
  lost: number;
  requeued: number;
  started: number;
  children: number;
  timedOut: number;
  /** `report-run` jobs added for runs GitHub shows an older state of. */
  reported: number;
  /** `publish-run-events` jobs added for runs with CloudEvents not yet sent to every sink. */
  published: number;
}

export async function sweepRuns(deps: RunSweepDeps): Promise<RunSweep> {
  const { db, engine } = deps;
  const before = sql`now() - ${deps.olderThanMs}::double precision * interval '1 millisecond'`;
  const result: RunSweep = { lost: 0, requeued: 0, started: 0, children: 0, timedOut: 0, reported: 0, published: 0 };

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
    // A task whose job still waits in the queue is not added again (its job id is deterministic).
    const jobs: Job[] = queued.map((t) => ({ queue: 'tasks', job: 'run-task', payload: { runId: t.runId, task: t.name, attempt: t.attempt } }));
    result.requeued = (await addedJobs(deps, jobs)).length;
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

  const followUps = await lostFollowUps(db, before, deps.reportJobs);
  if (followUps.length > 0) {
    const added = await addedJobs(deps, followUps);
    result.reported = added.filter((j) => j.job === 'report-run').length;
    result.published = added.filter((j) => j.job === 'publish-run-events').length;
  }
  return result;
}

/** The jobs the queue really added (all of them when `enqueue` does not say). */
async function addedJobs(deps: RunSweepDeps, jobs: readonly Job[]): Promise<Job[]> {
  const results = await deps.enqueue(jobs);
  return results ? jobs.filter((_, i) => results[i]?.added === true) : [...jobs];
}

/** The follow-up jobs of runs (created within a day, unchanged for the grace) that nothing may be left to send. */
async function lostFollowUps(db: Db, before: SQL, reportJobs: RunSweepDeps['reportJobs']): Promise<Job[]> {
  const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;
  const jobs: Job[] = [];
  if (reportJobs) {
    // Only runs reported at least once have a row; a run whose every report job was lost is
    // reported at its next transition, or not at all (see docs/operations.md).
    const behind = rowsOf<{ runId: string; version: string }>(
      await db.execute(sql`select g.run_id as "runId", r.version from github_reports g join runs r on r.id = g.run_id
        where r.created_at > now() - interval '1 day' and r.updated_at < ${before}
          and g.reported_version is distinct from r.version
          and (g.lock_until is null or g.lock_until < now())
        order by r.updated_at limit 500`),
    );
    for (const b of behind) jobs.push(...reportJobs({ id: b.runId, version: b.version }));
  }
  // A run's events are pending when no sink has a cursor yet, or a free sink's cursor is behind the last event.
  const unsent = rowsOf<{ runId: string; seq: number }>(
    await db.execute(sql`select e.run_id as "runId", max(e.seq)::int as seq from run_events e join runs r on r.id = e.run_id
      where r.created_at > now() - interval '1 day'
      group by e.run_id
      having max(e.created_at) < ${before}
        and (not exists (select 1 from run_event_cursors c where c.run_id = e.run_id)
          or exists (select 1 from run_event_cursors c where c.run_id = e.run_id and c.sent < max(e.seq) and (c.lease_until is null or c.lease_until < now())))
      limit 500`),
  );
  for (const u of unsent) jobs.push({ queue: 'reports', job: 'publish-run-events', payload: { runId: u.runId, seq: u.seq } });
  return jobs;
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
