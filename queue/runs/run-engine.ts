// The run engine's transitions, each in one transaction holding the run's row lock: start a run,
// record a task's result, stop (cancel or time out), decide an approval, finish a child run.
// Under the lock the stored state is read, `decide` (dag.ts) says what follows, the changes are
// written, and only after the commit are jobs enqueued — so every transition happens once, and
// a job lost on the way is found again by the sweeper (run-sweeper.ts) from the stored state.
import { randomUUID } from 'node:crypto';
import { and, asc, count, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Metrics } from '../../metrics/index.js';
import { evaluateCondition, parseDuration, renderTemplate, type Pipeline, type Task } from '../../schemas/index.js';
import { events, logChunks, runs, taskRuns, type Db, type EventRow, type RunRow, type TaskAttempt, type TaskRunRow } from '../../schemas/database/index.js';
import type { LogLine, TaskResult } from '../../runners/index.js';
import type { EnqueueItem } from '../jobs/index.js';
import type { EventopsCatalog } from '../jobs/catalog.js';
import { resolveInputs } from '../matching/resolve-inputs.js';
import { decide, isTerminal, outcome, type PlanTask, type Stop, type TaskState, type TaskStatus } from './dag.js';
import type { DefinitionsAtRevision } from './definitions-at-revision.js';
import { referencedTasks, runContext, type TaskView } from './run-context.js';

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Job = EnqueueItem<EventopsCatalog>;

export interface RunEngineDeps {
  db: Db;
  definitions: DefinitionsAtRevision;
  enqueue(jobs: readonly Job[]): Promise<void>;
  logger: Logger;
  /** Jobs to enqueue after each transition of a top-level run (reports to GitHub); default none. */
  onRunChange?(run: RunRow): Job[];
  /** Counts runs that reach a final status (after the transition commits). */
  metrics?: Pick<Metrics, 'runFinished'>;
  /** Called in the transaction of each transition of any run, with the statuses before it: writes what must commit with it (the run's CloudEvents) and returns jobs to enqueue after. */
  onTransition?(tx: Tx, change: RunTransition): Promise<Job[]>;
}

/** A transition as `onTransition` sees it: the run and its tasks after, and their statuses before. */
export interface RunTransition {
  run: RunRow;
  /** The git commit (or folder digest) of the run's revision. */
  revision: string;
  before: { status: string; tasks: ReadonlyMap<string, { status: string; attempt: number }> };
  tasks: ReadonlyMap<string, TaskRunRow>;
}

/**
 * What a worker reports for one attempt of a task: the runner's result, and its last log lines not
 * yet stored (written with the result, in its transaction). `handedBack`: the worker shut down and
 * stopped the attempt; the task is queued again at once and the attempt does not count against
 * its `retries` (at most MAX_HAND_BACKS times, so a task cannot bounce between workers forever).
 */
export type AttemptResult = TaskResult & { logTail?: LogLine[]; handedBack?: boolean };

/** How many attempts of one task may be handed back by shutting-down workers before they count as failures. */
const MAX_HAND_BACKS = 5;

export type Decision = 'approve' | 'reject';

export class RunStateError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
    this.name = 'RunStateError';
  }
}

/** A loaded run under its lock: the row, its pipeline at its revision, and its tasks. */
interface Locked {
  tx: Tx;
  run: RunRow;
  pipeline: Pipeline | undefined;
  revision: string;
  tasks: Map<string, TaskRunRow>;
  after: Job[];
  /** Work to do after the commit, outside this run's lock (other runs' transitions). */
  then: (() => Promise<void>)[];
  /** Something was written: the run's version is bumped at the end of the transition. */
  dirty: boolean;
  /** The engine's logger with this run's `runId` on every line. */
  log: Logger;
}

/** Most runs, and most task rows in all, whose task states this process keeps (by run version) between transitions. */
const CACHED_RUNS = 2_000;
const CACHED_ROWS = 20_000;

export interface RunEngine {
  startRun(runId: string): Promise<void>;
  /** Records the result of `attempt` of `task`; false when that attempt is no longer current (nothing recorded). */
  completeTask(runId: string, task: string, attempt: number, result: AttemptResult): Promise<boolean>;
  /** Fails `attempt` of a task that is queued or running without a worker able to finish it (no actuator, its job gave up); its `retries` still apply. */
  abandonTask(runId: string, task: string, attempt: number, error: string): Promise<boolean>;
  /** Cancel (or time out) a run: pending tasks are cancelled, running ones stopped by their workers, `finally` still runs. */
  stopRun(runId: string, stop: Stop, why?: string): Promise<RunRow>;
  /** Approves or rejects a waiting approval task; its outputs are `approvedBy` (or `rejectedBy`) and `comment`. */
  decideApproval(runId: string, task: string, decision: Decision, by: string, comment?: string): Promise<TaskRunRow>;
  /** A child run ended: its parent's `pipeline` task takes its outcome and outputs. */
  completeChild(childRunId: string): Promise<void>;
  /** The task's definition and the expression context of the run now (for a worker about to run it); `known`: the run's row, if just read. */
  taskPlan(runId: string, task: string, known?: RunRow): Promise<{ run: RunRow; task: Task; pipeline: Pipeline; context: Record<string, unknown> } | undefined>;
}

export function createRunEngine(deps: RunEngineDeps): RunEngine {
  const { db, logger } = deps;

  // The task rows of recent runs, by the run's version: a transition of a 1,000-task run then
  // reads one row (the run's, under its lock) instead of a thousand. Any process that writes a
  // run bumps its version, so a stale copy is never used. Rows changed without the lock (a claim
  // moving `queued` → `running`, a lease renewal) do not change what `decide` sees; transitions
  // that depend on them (a task's result, a stop) read those rows afresh.
  const taskCache = new Map<string, { version: string; tasks: Map<string, TaskRunRow> }>();
  let cachedRows = 0;
  const remember = (runId: string, entry: { version: string; tasks: Map<string, TaskRunRow> }) => {
    const before = taskCache.get(runId);
    if (before) cachedRows -= before.tasks.size;
    taskCache.delete(runId);
    taskCache.set(runId, entry);
    cachedRows += entry.tasks.size;
    // Bounded by runs and by rows (a few 1,000-task runs must not hold a worker's memory).
    while (taskCache.size > 1 && (taskCache.size > CACHED_RUNS || cachedRows > CACHED_ROWS)) {
      const [oldest, dropped] = taskCache.entries().next().value as [string, { tasks: Map<string, TaskRunRow> }];
      taskCache.delete(oldest);
      cachedRows -= dropped.tasks.size;
    }
  };

  async function taskRowsOf(tx: Tx, run: RunRow): Promise<Map<string, TaskRunRow>> {
    const cached = taskCache.get(run.id);
    if (cached && cached.version === run.version) return new Map(cached.tasks);
    const rows = await tx.select().from(taskRuns).where(eq(taskRuns.runId, run.id));
    return new Map(rows.map((r) => [r.name, r]));
  }

  async function withRun<T>(runId: string, fn: (l: Locked) => Promise<T>): Promise<T> {
    const after: Job[] = [];
    const then: (() => Promise<void>)[] = [];
    const log = logger.child({ runId });
    const result = await db.transaction(async (tx) => {
      const [run] = await tx.select().from(runs).where(eq(runs.id, runId)).for('update');
      if (!run) throw new RunStateError(`run ${runId} does not exist`, 404);
      const defs = await deps.definitions.get(run.source, run.revisionId, tx);
      const l: Locked = { tx, run, pipeline: defs.pipelines.get(run.pipeline), revision: defs.commit, tasks: await taskRowsOf(tx, run), after, then, dirty: false, log };
      const before = deps.onTransition ? { status: run.status, tasks: new Map([...l.tasks].map(([name, row]) => [name, { status: row.status, attempt: row.attempt }])) } : undefined;
      const value = await fn(l);
      // Remembered before the commit: versions are random, so if the commit fails this entry
      // matches no stored version and is never used.
      if (l.dirty) {
        const version = randomUUID();
        await tx.update(runs).set({ version }).where(eq(runs.id, runId));
        l.run = { ...l.run, version };
        remember(runId, { version, tasks: l.tasks });
        if (deps.onRunChange && l.run.parentRunId === null) after.push(...deps.onRunChange(l.run));
        if (deps.onTransition && before) after.push(...(await deps.onTransition(tx, { run: l.run, revision: l.revision, before, tasks: l.tasks })));
      } else remember(runId, { version: l.run.version, tasks: l.tasks });
      return value;
    });
    if (after.length > 0) {
      await deps.enqueue(after).catch((error: unknown) => log.warn({ err: error }, 'jobs of a run not enqueued; the run sweeper will enqueue them'));
    }
    for (const step of then) await step().catch((error: unknown) => log.warn({ err: error }, 'a follow-up of a run transition failed; the run sweeper will retry it'));
    return result;
  }

  const eventCache = new Map<string, EventRow | undefined>();
  async function eventOf(tx: Tx, eventId: string): Promise<EventRow | undefined> {
    if (eventCache.has(eventId)) return eventCache.get(eventId);
    const [event] = await tx.select().from(events).where(eq(events.id, eventId));
    if (eventCache.size > 256) eventCache.delete(eventCache.keys().next().value as string);
    eventCache.set(eventId, event);
    return event;
  }

  /** The expression context for templates `reads` (only the tasks they name go in). */
  async function contextOf(l: Locked, status: string, reads: unknown, states?: ReadonlyMap<string, TaskState>): Promise<Record<string, unknown>> {
    return contextWith(l, status, await eventOf(l.tx, l.run.eventId), reads, states);
  }

  function contextWith(l: Locked, status: string, event: EventRow | undefined, reads: unknown, states?: ReadonlyMap<string, TaskState>): Record<string, unknown> {
    const only = referencedTasks([JSON.stringify(reads ?? null)]);
    const tasks = new Map<string, TaskView>();
    for (const name of only ?? l.tasks.keys()) {
      const row = l.tasks.get(name);
      if (row) tasks.set(name, { status: states?.get(name)?.status ?? row.status, outputs: row.outputs });
    }
    return runContext({ run: l.run, status, revision: l.revision, event, tasks });
  }

  /** Reads the task's row afresh (the cache may hold it as it was before a claim). */
  async function freshTask(l: Locked, name: string): Promise<TaskRunRow | undefined> {
    const [row] = await l.tx.select().from(taskRuns).where(and(eq(taskRuns.runId, l.run.id), eq(taskRuns.name, name)));
    if (row) l.tasks.set(name, row);
    else l.tasks.delete(name);
    return row;
  }

  function planOf(pipeline: Pipeline): PlanTask[] {
    const task = (phase: PlanTask['phase']) => (t: Task): PlanTask => ({ name: t.name, phase, needs: t.needs ?? [], ...(t.if !== undefined ? { if: t.if } : {}) });
    return [...pipeline.spec.tasks.map(task('tasks')), ...(pipeline.spec.finally ?? []).map(task('finally'))];
  }

  function taskOf(pipeline: Pipeline, name: string): Task | undefined {
    return pipeline.spec.tasks.find((t) => t.name === name) ?? pipeline.spec.finally?.find((t) => t.name === name);
  }

  async function setTask(l: Locked, name: string, values: Partial<typeof taskRuns.$inferInsert>): Promise<void> {
    const [row] = await l.tx
      .update(taskRuns)
      .set({ ...values, updatedAt: sql`now()` })
      .where(and(eq(taskRuns.runId, l.run.id), eq(taskRuns.name, name)))
      .returning();
    l.dirty = true;
    if (row) l.tasks.set(name, row);
  }

  async function setRun(l: Locked, values: Partial<typeof runs.$inferInsert>): Promise<void> {
    const [row] = await l.tx
      .update(runs)
      .set({ ...values, updatedAt: sql`now()` })
      .where(eq(runs.id, l.run.id))
      .returning();
    l.dirty = true;
    if (row) l.run = row;
    const { metrics } = deps;
    if (row && metrics && values.status !== undefined && row.status !== 'pending' && row.status !== 'running') l.then.push(async () => metrics.runFinished(row.pipeline, row.status));
  }

  /** Applies what the DAG says until it says nothing new. */
  async function advance(l: Locked): Promise<void> {
    const pipeline = l.pipeline as Pipeline;
    const plan = planOf(pipeline);
    const stop = (l.run.stopRequested as Stop | null) ?? null;
    for (let round = 0; round < plan.length + 2; round++) {
      const states = new Map<string, TaskState>([...l.tasks].map(([name, row]) => [name, { status: row.status as TaskStatus, skipReason: row.skipReason as TaskState['skipReason'] }]));
      // `if` is evaluated synchronously by `decide`: the event is read first, the context built on the first `if`.
      const event = plan.some((t) => t.if !== undefined) ? await eventOf(l.tx, l.run.eventId) : undefined;
      const decisions = decide(plan, states, stop, (task, work) => {
        const context = contextWith(l, outcome(plan, work, stop), event, task.if, work);
        return evaluateCondition(task.if as string, 'pipeline', context);
      });
      if (decisions.length === 0) return;
      // Tasks that go to a runner are queued together: one UPDATE for all of them.
      const queued = decisions.flatMap((d) => (d.kind === 'start' && !['approval', 'pipeline'].includes(taskOf(pipeline, d.task)?.type ?? 'local') ? [d.task] : []));
      if (queued.length > 0) await queueTasks(l, queued);
      for (const d of decisions) {
        switch (d.kind) {
          case 'start':
            if (!queued.includes(d.task)) await startTask(l, taskOf(pipeline, d.task) as Task);
            break;
          case 'skip':
            await setTask(l, d.task, { status: 'skipped', skipReason: d.reason, error: d.message, finishedAt: sql`now()` as unknown as Date });
            break;
          case 'cancel':
            await setTask(l, d.task, { status: 'cancelled', error: d.message, finishedAt: sql`now()` as unknown as Date });
            break;
          case 'fail':
            await setTask(l, d.task, { status: 'failed', error: d.error, finishedAt: sql`now()` as unknown as Date });
            break;
          case 'finish':
            await finishRun(l, d.status, d.error);
            return;
        }
      }
    }
  }

  /** Queues the first attempt of tasks that run on actuators, and their `run-task` jobs. */
  async function queueTasks(l: Locked, names: readonly string[]): Promise<void> {
    const rows = await l.tx
      .update(taskRuns)
      .set({ status: 'queued', attempt: 1, updatedAt: sql`now()` })
      .where(and(eq(taskRuns.runId, l.run.id), inArray(taskRuns.name, [...names])))
      .returning();
    l.dirty = true;
    for (const row of rows) {
      l.tasks.set(row.name, row);
      l.after.push({ queue: 'tasks', job: 'run-task', payload: { runId: l.run.id, task: row.name, attempt: 1 } });
    }
  }

  async function startTask(l: Locked, task: Task): Promise<void> {
    const type = task.type ?? 'local';
    if (type === 'approval') {
      await setTask(l, task.name, { status: 'waiting_approval', startedAt: sql`now()` as unknown as Date });
      return;
    }
    if (type === 'pipeline') {
      await startChild(l, task);
      return;
    }
    await setTask(l, task.name, { status: 'queued', attempt: 1 });
    l.after.push({ queue: 'tasks', job: 'run-task', payload: { runId: l.run.id, task: task.name, attempt: 1 } });
  }

  async function startChild(l: Locked, task: Task): Promise<void> {
    const defs = await deps.definitions.get(l.run.source, l.run.revisionId, l.tx);
    const child = defs.pipelines.get(task.pipeline as string);
    if (!child) {
      await setTask(l, task.name, { status: 'failed', error: `pipeline ${task.pipeline} does not exist in revision ${l.revision} of source ${l.run.source}`, finishedAt: sql`now()` as unknown as Date });
      return;
    }
    const inputs = resolveInputs(child, task.inputs, await contextOf(l, 'running', task.inputs), undefined, 'pipeline');
    if (!inputs.ok) {
      await setTask(l, task.name, { status: 'failed', error: inputs.reason, finishedAt: sql`now()` as unknown as Date });
      return;
    }
    const id = randomUUID();
    await l.tx.insert(runs).values({
      id,
      source: l.run.source,
      trigger: l.run.trigger,
      pipeline: child.metadata.name,
      pipelineIndex: l.run.pipelineIndex,
      revisionId: l.run.revisionId,
      eventId: l.run.eventId,
      inputs: inputs.inputs,
      parentRunId: l.run.id,
      parentTask: task.name,
    });
    await setTask(l, task.name, { status: 'running', childRunId: id, attempt: 1, startedAt: sql`now()` as unknown as Date });
    l.after.push({ queue: 'runs', job: 'start-run', payload: { runId: id } });
  }

  async function finishRun(l: Locked, status: RunRow['status'], error: string | undefined): Promise<void> {
    const pipeline = l.pipeline as Pipeline;
    const outputs: Record<string, unknown> = {};
    const problems: string[] = [];
    const context = await contextOf(l, status, pipeline.spec.outputs);
    for (const output of pipeline.spec.outputs ?? []) {
      try {
        outputs[output.name] = renderTemplate(output.value, 'pipeline', context);
      } catch (e) {
        outputs[output.name] = null;
        problems.push(`output ${output.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (problems.length > 0 && status === 'succeeded') l.log.info({ problems }, 'pipeline outputs that could not be rendered are null');
    await setRun(l, { status, error: error ?? null, outputs, finishedAt: sql`now()` as unknown as Date });
    l.log.info({ pipeline: l.run.pipeline, status }, 'run finished');
    const runId = l.run.id;
    if (l.run.parentRunId) l.then.push(() => engine.completeChild(runId));
    if (l.run.concurrencyGroup) {
      const group = l.run.concurrencyGroup;
      l.then.push(async () => {
        const [next] = await db
          .select({ id: runs.id })
          .from(runs)
          .where(and(eq(runs.concurrencyGroup, group), eq(runs.status, 'pending')))
          .orderBy(asc(runs.createdAt), asc(runs.id))
          .limit(1);
        if (next) await engine.startRun(next.id);
      });
    }
  }

  async function failRun(l: Locked, error: string): Promise<void> {
    await setRun(l, { status: 'failed', error, finishedAt: sql`now()` as unknown as Date, startedAt: l.run.startedAt ?? (sql`now()` as unknown as Date) });
    l.log.warn({ pipeline: l.run.pipeline, error }, 'run failed before its tasks started');
    const runId = l.run.id;
    if (l.run.parentRunId) l.then.push(() => engine.completeChild(runId));
  }

  /** One task's result, applied under the run's lock (the caller advances the DAG afterwards). */
  /** A task's final result, ready to be written (with others of its batch). */
  interface FinalWrite {
    name: string;
    attempt: number;
    status: TaskStatus;
    exitCode: number | null;
    error: string | null;
    outputs: Record<string, unknown>;
    contextUpdates: Record<string, unknown>;
  }

  /**
   * Writes final results in one UPDATE, each only while its attempt is the current one and
   * running (the cached row may predate the claim); returns the names written.
   */
  async function writeFinals(l: Locked, finals: readonly FinalWrite[]): Promise<Set<string>> {
    const json = JSON.stringify(finals.map((f) => ({ n: f.name, a: f.attempt, s: f.status, x: f.exitCode, e: f.error, o: f.outputs })));
    const result = (await l.tx.execute(sql`update task_runs t
      set status = r.s, exit_code = r.x, error = r.e, outputs = r.o, lease_until = null, finished_at = now(), updated_at = now()
      from jsonb_to_recordset(${json}::jsonb) as r(n text, a int, s text, x int, e text, o jsonb)
      where t.run_id = ${l.run.id} and t.name = r.n and t.attempt = r.a and t.status = 'running'
      returning t.name`)) as unknown as { rows: { name: string }[] };
    const written = new Set(result.rows.map((r) => r.name));
    const contextUpdates: Record<string, unknown> = {};
    const now = new Date();
    for (const f of finals) {
      if (!written.has(f.name)) continue;
      const before = l.tasks.get(f.name);
      if (before) l.tasks.set(f.name, { ...before, status: f.status, exitCode: f.exitCode, error: f.error, outputs: f.outputs, leaseUntil: null, finishedAt: now, updatedAt: now });
      Object.assign(contextUpdates, f.contextUpdates);
    }
    if (written.size > 0) l.dirty = true;
    if (Object.keys(contextUpdates).length > 0) await setRun(l, { contexts: { ...l.run.contexts, ...contextUpdates } });
    return written;
  }

  /** Applies a retry at once; a final result is added to `finals`, written by `writeFinals` with the others of its batch. */
  async function applyCompletion(l: Locked, name: string, attempt: number, result: AttemptResult, finals: FinalWrite[]): Promise<boolean | 'deferred'> {
    const runId = l.run.id;
    const task = l.pipeline ? taskOf(l.pipeline, name) : undefined;
    if (!task) return false;
    // The run's deadline passed (the runner cut the task at it): the run is timing out, whoever notices first.
    if (!l.run.stopRequested && l.run.deadlineAt && l.run.deadlineAt.getTime() <= Date.now() + 50) {
      await setRun(l, { stopRequested: 'timed_out', error: 'the run timed out' });
    }
    const retryable = (result.status === 'failed' || result.status === 'timed_out') && !l.run.stopRequested;
    const row = retryable ? await freshTask(l, name) : undefined;
    const handedBefore = row?.attempts.filter((a) => a.handedBack).length ?? 0;
    const handBack = retryable && result.handedBack === true && handedBefore < MAX_HAND_BACKS;
    if (retryable && (handBack || attempt - handedBefore <= (task.retries?.limit ?? 0))) {
      if (!row || row.status !== 'running' || row.attempt !== attempt) return false;
      const history: TaskAttempt = {
        attempt,
        status: result.status,
        exitCode: result.exitCode,
        error: result.error ?? null,
        actuator: row.actuator,
        startedAt: row.startedAt?.toISOString() ?? null,
        finishedAt: new Date().toISOString(),
        ...(handBack ? { handedBack: true as const } : {}),
      };
      const spent = attempt - handedBefore;
      const backoffMs = handBack ? 0 : (task.retries?.backoff ? (parseDuration(task.retries.backoff) ?? 0) : 0) * 2 ** (spent - 1);
      await setTask(l, name, {
        status: 'queued',
        attempt: attempt + 1,
        attempts: [...row.attempts, history],
        leaseUntil: null,
        worker: null,
        notBefore: sql`now() + ${backoffMs}::double precision * interval '1 millisecond'` as unknown as Date,
        error: handBack ? `attempt ${attempt} ${result.error ?? 'was handed back'}; queued again` : `attempt ${attempt} ${result.status.replace('_', ' ')}: ${result.error ?? ''}; retrying in ${Math.round(backoffMs / 1000)}s`,
      });
      l.after.push({ queue: 'tasks', job: 'run-task', payload: { runId, task: name, attempt: attempt + 1 }, delayMs: backoffMs });
      return true;
    }
    const outputs: Record<string, unknown> = { ...result.outputs };
    const contextUpdates: Record<string, unknown> = {};
    let status: TaskStatus = result.status;
    let error = result.error ?? null;
    if (status === 'succeeded') {
      const templated = (task.outputs ?? []).some((o) => o.value !== undefined);
      const context = templated ? await contextOf(l, 'running', task.outputs) : undefined;
      if (context) (context.tasks as Record<string, TaskView>)[name] = { status: 'succeeded', outputs };
      for (const output of task.outputs ?? []) {
        if (output.value !== undefined && context) {
          try {
            outputs[output.name] = renderTemplate(output.value, 'pipeline', context);
          } catch (e) {
            status = 'failed';
            error = `output ${output.name}: ${e instanceof Error ? e.message : String(e)}`;
          }
        }
        if (output.setToContext && outputs[output.name] !== undefined) contextUpdates[output.setToContext] = outputs[output.name];
      }
    }
    if (finals.some((f) => f.name === name)) return false;
    finals.push({ name, attempt, status, exitCode: result.exitCode, error, outputs, contextUpdates });
    return 'deferred';
  }

  interface Completion {
    name: string;
    attempt: number;
    result: AttemptResult;
    resolve(recorded: boolean): void;
    reject(error: unknown): void;
  }
  const completions = new Map<string, { items: Completion[]; draining: boolean }>();

  async function drainCompletions(runId: string, queue: { items: Completion[]; draining: boolean }): Promise<void> {
    queue.draining = true;
    try {
      while (queue.items.length > 0) {
        const batch = queue.items.splice(0, 200);
        try {
          const recorded = await withRun(runId, async (l) => {
            const tails = batch.filter((c) => (c.result.logTail?.length ?? 0) > 0).map((c) => ({ runId, task: c.name, attempt: c.attempt, lines: c.result.logTail as LogLine[] }));
            if (tails.length > 0) await l.tx.insert(logChunks).values(tails);
            const finals: FinalWrite[] = [];
            const applied: (boolean | 'deferred')[] = [];
            for (const c of batch) applied.push(l.pipeline ? await applyCompletion(l, c.name, c.attempt, c.result, finals) : false);
            const written = finals.length > 0 ? await writeFinals(l, finals) : new Set<string>();
            const out = applied.map((a, i) => (a === 'deferred' ? written.has((batch[i] as Completion).name) : a));
            if (out.some(Boolean)) await advance(l);
            return out;
          });
          batch.forEach((c, i) => c.resolve(recorded[i] as boolean));
        } catch (error) {
          for (const c of batch) c.reject(error);
        }
      }
    } finally {
      queue.draining = false;
      if (queue.items.length === 0) completions.delete(runId);
    }
  }

  const engine: RunEngine = {
    startRun: (runId) =>
      withRun(runId, async (l) => {
        if (l.run.status !== 'pending') return;
        if (l.run.stopRequested) {
          await setRun(l, { status: l.run.stopRequested, error: 'cancelled before it started', finishedAt: sql`now()` as unknown as Date });
          return;
        }
        if (!l.pipeline) return failRun(l, `pipeline ${l.run.pipeline} does not exist in revision ${l.revision} of source ${l.run.source}`);
        const spec = l.pipeline.spec;
        if (spec.concurrency) {
          let group: string;
          try {
            group = String(renderTemplate(spec.concurrency.group, 'pipeline', await contextOf(l, 'pending', spec.concurrency.group)));
          } catch (e) {
            return failRun(l, `concurrency.group: ${e instanceof Error ? e.message : String(e)}`);
          }
          const key = `${l.run.source}/${group}`;
          if (l.run.concurrencyGroup !== key) await setRun(l, { concurrencyGroup: key });
          // One start at a time per group, so two runs of a group never both see it free.
          await l.tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`group:${key}`}, 0))`);
          const ahead = await l.tx
            .select({ id: runs.id, status: runs.status, createdAt: runs.createdAt })
            .from(runs)
            .where(and(eq(runs.concurrencyGroup, key), inArray(runs.status, ['pending', 'running']), ne(runs.id, l.run.id)));
          const running = ahead.filter((r) => r.status === 'running');
          const older = ahead.filter((r) => r.status === 'pending' && (r.createdAt < l.run.createdAt || (r.createdAt.getTime() === l.run.createdAt.getTime() && r.id < l.run.id)));
          if (spec.concurrency.cancelInProgress && running.length > 0) {
            for (const r of running) l.then.push(async () => void (await engine.stopRun(r.id, 'cancelled', `a newer run of concurrency group ${group} started`)));
            return; // started when the cancelled run finishes
          }
          if (running.length > 0 || older.length > 0) return; // waits its turn: started when the group frees
        }
        const plan = planOf(l.pipeline);
        const types = new Map([...spec.tasks, ...(spec.finally ?? [])].map((t) => [t.name, t.type ?? 'local']));
        await l.tx
          .insert(taskRuns)
          .values(plan.map((t, position) => ({ runId: l.run.id, name: t.name, phase: t.phase, position, type: types.get(t.name) as string })))
          .onConflictDoNothing();
        for (const row of await l.tx.select().from(taskRuns).where(eq(taskRuns.runId, l.run.id))) l.tasks.set(row.name, row);
        const timeoutMs = spec.timeout ? parseDuration(spec.timeout) : undefined;
        await setRun(l, {
          status: 'running',
          startedAt: sql`now()` as unknown as Date,
          ...(timeoutMs !== undefined ? { deadlineAt: sql`now() + ${timeoutMs}::double precision * interval '1 millisecond'` as unknown as Date } : {}),
        });
        if (timeoutMs !== undefined) l.after.push({ queue: 'runs', job: 'run-timeout', payload: { runId: l.run.id }, delayMs: timeoutMs });
        l.log.info({ pipeline: l.run.pipeline }, 'run started');
        await advance(l);
      }),

    completeTask: (runId, name, attempt, result) =>
      new Promise<boolean>((resolve, reject) => {
        // Results of one run that arrive while a transition of it runs are applied together in
        // the next one: a wide DAG's completions share lock, DAG pass and commit.
        const queue = completions.get(runId) ?? { items: [], draining: false };
        completions.set(runId, queue);
        queue.items.push({ name, attempt, result, resolve, reject });
        if (!queue.draining) void drainCompletions(runId, queue);
      }),

    abandonTask: (runId, name, attempt, error) =>
      withRun(runId, async (l) => {
        const row = await freshTask(l, name);
        if (!row || row.attempt !== attempt || (row.status !== 'queued' && row.status !== 'running') || !l.pipeline) return false;
        if (row.status === 'queued') await setTask(l, name, { status: 'running', startedAt: sql`now()` as unknown as Date });
        const finals: FinalWrite[] = [];
        const applied = await applyCompletion(l, name, attempt, { status: 'failed', exitCode: null, outputs: {}, error }, finals);
        const recorded = applied === 'deferred' ? (await writeFinals(l, finals)).has(name) : applied;
        await advance(l);
        return recorded;
      }),

    stopRun: (runId, stop, why) =>
      withRun(runId, async (l) => {
        if (l.run.status !== 'pending' && l.run.status !== 'running') return l.run;
        if (l.run.status === 'pending') {
          await setRun(l, { status: stop, stopRequested: stop, error: why ?? (stop === 'cancelled' ? 'cancelled before it started' : 'timed out before it started'), finishedAt: sql`now()` as unknown as Date });
          const runId = l.run.id;
          if (l.run.parentRunId) l.then.push(() => engine.completeChild(runId));
          return l.run;
        }
        if (!l.run.stopRequested) await setRun(l, { stopRequested: stop, ...(why ? { error: why } : {}) });
        // Afresh: a task this process last saw `queued` may have been claimed since.
        l.tasks = new Map((await l.tx.select().from(taskRuns).where(eq(taskRuns.runId, l.run.id))).map((r) => [r.name, r]));
        for (const [name, row] of l.tasks) {
          if (row.phase !== 'tasks') continue;
          if (row.status === 'queued' || row.status === 'waiting_approval') {
            await setTask(l, name, { status: 'cancelled', error: stop === 'timed_out' ? 'the run timed out' : 'cancelled', finishedAt: sql`now()` as unknown as Date });
          }
          if (row.status === 'running' && row.childRunId) {
            const child = row.childRunId;
            l.then.push(async () => void (await engine.stopRun(child, stop, why)));
          }
        }
        if (l.pipeline) await advance(l);
        return l.run;
      }),

    decideApproval: (runId, name, decision, by, comment) =>
      withRun(runId, async (l) => {
        const row = l.tasks.get(name);
        if (!row) throw new RunStateError(`run ${runId} has no task ${name}`, 404);
        if (row.status !== 'waiting_approval') throw new RunStateError(`task ${name} of run ${runId} is ${row.status}, not waiting for an approval`, 409);
        await setTask(l, name, {
          status: decision === 'approve' ? 'succeeded' : 'failed',
          decision,
          decidedBy: by,
          outputs: { [decision === 'approve' ? 'approvedBy' : 'rejectedBy']: by, comment: comment ?? '' },
          error: decision === 'reject' ? `rejected by ${by}` : null,
          finishedAt: sql`now()` as unknown as Date,
        });
        await advance(l);
        return l.tasks.get(name) as TaskRunRow;
      }),

    completeChild: async (childRunId) => {
      const [child] = await db.select().from(runs).where(eq(runs.id, childRunId));
      if (!child?.parentRunId || !child.parentTask || !isTerminal(child.status as TaskStatus)) return;
      const parentTask = child.parentTask;
      await withRun(child.parentRunId, async (l) => {
        const row = l.tasks.get(parentTask);
        if (!row || row.status !== 'running' || row.childRunId !== childRunId || !l.pipeline) return;
        const task = taskOf(l.pipeline, parentTask) as Task;
        const status: TaskStatus = child.status === 'succeeded' ? 'succeeded' : child.status === 'timed_out' ? 'timed_out' : child.status === 'cancelled' ? 'cancelled' : 'failed';
        const outputs = child.outputs ?? {};
        const contextUpdates = Object.fromEntries((task.outputs ?? []).filter((o) => o.setToContext && outputs[o.name] !== undefined).map((o) => [o.setToContext as string, outputs[o.name]]));
        await setTask(l, parentTask, { status, outputs, error: status === 'succeeded' ? null : `pipeline ${child.pipeline} (run ${child.id}) ${child.status}${child.error ? `: ${child.error}` : ''}`, finishedAt: sql`now()` as unknown as Date });
        if (Object.keys(contextUpdates).length > 0) await setRun(l, { contexts: { ...l.run.contexts, ...contextUpdates } });
        await advance(l);
      });
    },

    taskPlan: async (runId, name, known) => {
      // Reads only, and each read stands alone (the run row's inputs and contexts, the rows of
      // tasks that ended): no transaction needed.
      const tx = db as unknown as Tx;
      return (async () => {
        // `known`: the row as the worker's claim just read it (the tasks this one needs had ended then).
        const [run] = known ? [known] : await tx.select().from(runs).where(eq(runs.id, runId));
        if (!run) return undefined;
        const defs = await deps.definitions.get(run.source, run.revisionId, tx);
        const pipeline = defs.pipelines.get(run.pipeline);
        const task = pipeline ? taskOf(pipeline, name) : undefined;
        if (!pipeline || !task) return undefined;
        // Only the rows of the tasks this one's templates name, unless it may read any.
        const only = referencedTasks([JSON.stringify(task)]);
        const cached = taskCache.get(run.id);
        const tasks =
          cached && cached.version === run.version
            ? cached.tasks
            : only
              ? new Map((only.size === 0 ? [] : await tx.select().from(taskRuns).where(and(eq(taskRuns.runId, runId), inArray(taskRuns.name, [...only])))).map((r) => [r.name, r]))
              : await taskRowsOf(tx, run);
        const l: Locked = { tx, run, pipeline, revision: defs.commit, tasks, after: [], then: [], dirty: false, log: logger.child({ runId: run.id }) };
        // `run.status`: `running` for the main tasks; for a `finally` task, what the run will end as.
        let status = 'running';
        if (pipeline.spec.finally?.some((t) => t.name === name)) {
          const [failed] = run.stopRequested ? [] : await tx.select({ n: count() }).from(taskRuns).where(and(eq(taskRuns.runId, runId), inArray(taskRuns.status, ['failed', 'timed_out', 'cancelled'])));
          status = run.stopRequested ?? ((failed?.n ?? 0) > 0 ? 'failed' : 'succeeded');
        }
        return { run, task, pipeline, context: await contextOf(l, status, task) };
      })();
    },
  };
  return engine;
}
