// The `run-task` job: one attempt of one task, from claim to result.
// 1. Claim: under a lock per actuator, take a free slot (each actuator's `concurrency` holds
//    across all workers) and move the task `queued` → `running` with a lease; if every matching
//    actuator is busy, wait and try again.
//    A task that waits says why in its log (which actuator, how many of its slots are busy).
// 2. Run it with the actuator's runner, renewing the lease; a cancel or the run's timeout (seen
//    on each renewal) kills it. Lines go to the log in chunks. The attempt's end does not depend
//    on the runner answering: past the task's timeout, or once stopped, a runner that has not
//    ended within `stopGraceMs` is left to clean up in the background and the attempt ends (its
//    actuator slot is free again).
// 3. Record the result through the engine (retries, outputs, what starts next).
// A worker that dies mid-task stops renewing; the run sweeper then takes the attempt as lost.
import { and, count, eq, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Metrics } from '../../metrics/index.js';
import { createMasker, type TaskResult } from '../../runners/index.js';
import { definitions, logChunks, runs, taskRuns, type Db, type RunRow } from '../../schemas/database/index.js';
import type { Actuator, Task } from '../../schemas/index.js';
import type { JobContext } from '../jobs/index.js';
import type { DefinitionsAtRevision } from './definitions-at-revision.js';
import { createLogWriter } from './log-writer.js';
import { actuatorCandidates, actuatorType, type ActuatorChoice, type RunnerType } from './pick-actuator.js';
import type { AttemptResult, RunEngine } from './run-engine.js';
import type { ActuatorRunners } from './actuator-runners.js';
import { taskExecution } from './task-execution.js';
import { noteAgentWait } from './agent-wait.js';

export interface TaskWorkerDeps {
  db: Db;
  engine: RunEngine;
  definitions: DefinitionsAtRevision;
  /** The runner of each actuator. */
  runners: ActuatorRunners;
  /** A secret's value for a task of `source`; throws when the source may not use it or it is unset. */
  secret(source: string, name: string): string;
  /** This process, as recorded on the tasks it runs. */
  workerId: string;
  /** How long a claim lasts without renewal; renewed every third of it. */
  leaseMs: number;
  logger: Logger;
  /** Bytes of log stored per attempt (limits.logs.taskLogBytes); default DEFAULT_LIMITS'. */
  taskLogBytes?: number;
  /** Times each attempt on its runner. */
  metrics?: Pick<Metrics, 'taskFinished'>;
  /** Called once a task is taken (`running`), before it runs (records its `task.started` event); a failure is only logged. */
  onStarted?(run: RunRow, task: string, attempt: number): Promise<void>;
  /** How long to wait before looking again for a free actuator slot. Default 1 s. */
  busyRetryMs?: number;
  /**
   * How long a runner may take to end an attempt once it was stopped (cancel, timeout, shutdown)
   * before the attempt ends without it; default 45 s. The task's own timeout is also enforced
   * here, one second after the runner should have enforced it, in case the runner is stuck.
   */
  stopGraceMs?: number;
  /**
   * Whether agent `id` is connected to this process. An agent task is run only by the process its
   * agent is connected to; elsewhere the job leaves it queued, for that process's agent dispatch.
   */
  agentHere?(id: string): boolean;
}

type Claim =
  | { kind: 'claimed'; actuator: ActuatorChoice; run: RunRow }
  | { kind: 'gone' }
  | { kind: 'elsewhere'; agents: string[] }
  // `busy`: the actuators it waits for, for its log.
  | { kind: 'wait'; ms: number; why: string; busy?: string }
  | { kind: 'failed'; error: string };

/** Past the task's timeout, the runner gets this long to report it before the worker stops the attempt itself. */
const TIMEOUT_SLACK_MS = 1_000;
/** setTimeout fires at once beyond this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function createTaskWorker(deps: TaskWorkerDeps): (payload: { runId: string; task: string; attempt: number }, ctx: JobContext) => Promise<void> {
  const { db, engine, logger } = deps;

  // The claim's statements run for every task: built once, prepared on the server.
  const readTask = db
    .select({ status: taskRuns.status, attempt: taskRuns.attempt, waitMs: sql<number>`greatest(0, extract(epoch from (${taskRuns.notBefore} - now())) * 1000)`, run: runs })
    .from(taskRuns)
    .innerJoin(runs, eq(runs.id, taskRuns.runId))
    .where(and(eq(taskRuns.runId, sql.placeholder('runId')), eq(taskRuns.name, sql.placeholder('name'))))
    .prepare('eventops_claim_read');
  const takeTask = db
    .update(taskRuns)
    .set({
      status: 'running',
      actuator: sql`${sql.placeholder('actuator')}`,
      worker: sql`${sql.placeholder('worker')}`,
      startedAt: sql`now()`,
      leaseUntil: sql`now() + ${sql.placeholder('leaseMs')}::double precision * interval '1 millisecond'`,
      exitCode: null,
      updatedAt: sql`now()`,
    })
    .where(and(eq(taskRuns.runId, sql.placeholder('runId')), eq(taskRuns.name, sql.placeholder('name')), eq(taskRuns.attempt, sql.placeholder('attempt')), eq(taskRuns.status, 'queued')))
    .returning({ name: taskRuns.name })
    .prepare('eventops_claim_take');
  const countRunning = db
    .select({ n: count() })
    .from(taskRuns)
    .where(and(eq(taskRuns.actuator, sql.placeholder('actuator')), eq(taskRuns.status, 'running')))
    .prepare('eventops_claim_count');

  async function claim(runId: string, name: string, attempt: number): Promise<Claim> {
    const [row] = await readTask.execute({ runId, name });
    if (!row || row.status !== 'queued' || row.attempt !== attempt) return { kind: 'gone' };
    if (row.waitMs && Number(row.waitMs) > 0) return { kind: 'wait', ms: Number(row.waitMs), why: 'retry backoff' };
    const defs = await deps.definitions.get(row.run.source, row.run.revisionId);
    const pipeline = defs.pipelines.get(row.run.pipeline);
    const task = pipeline?.spec.tasks.find((t) => t.name === name) ?? pipeline?.spec.finally?.find((t) => t.name === name);
    if (!pipeline || !task) return { kind: 'failed', error: `task ${name} is not in pipeline ${row.run.pipeline} at this revision` };
    let candidates = actuatorCandidates(row.run.source, defs.actuators, pipeline, task);
    if (!candidates.ok || candidates.choices[0]?.key === 'builtin/local') {
      // Nothing of its own fits: other sources' active actuators may (read only on this path).
      const others = await db
        .select({ source: definitions.source, metadata: definitions.metadata, spec: definitions.spec })
        .from(definitions)
        .where(and(eq(definitions.kind, 'Actuator'), isNull(definitions.removedRevisionId)));
      const found = others.map((o) => ({ source: o.source, actuator: { apiVersion: 'eventops.dev/v1', kind: 'Actuator', metadata: o.metadata, spec: o.spec } as Actuator }));
      if (found.length > 0) candidates = actuatorCandidates(row.run.source, defs.actuators, pipeline, task, found);
    }
    if (!candidates.ok) return { kind: 'failed', error: candidates.reason };
    let choices = candidates.choices;
    if (actuatorType(choices[0]!.actuator) === 'agent') {
      // Only agents connected here; none: the process an agent is connected to takes the task.
      const ids = choices.map((c) => c.actuator.spec.agent!.id);
      choices = choices.filter((c) => deps.agentHere?.(c.actuator.spec.agent!.id) ?? false);
      if (choices.length === 0) return { kind: 'elsewhere', agents: ids };
    }
    const mine = and(eq(taskRuns.runId, runId), eq(taskRuns.name, name), eq(taskRuns.attempt, attempt));
    const full: string[] = [];
    for (const choice of choices) {
      // Optimistic: take the task, then count the actuator's running tasks (ours included). Two
      // workers taking the last slot at once both see it over the limit and both give theirs
      // back, so the limit is never exceeded; they try again after a jittered wait.
      const taken = await takeTask.execute({ runId, name, attempt, actuator: choice.key, worker: deps.workerId, leaseMs: deps.leaseMs });
      if (taken.length === 0) return { kind: 'gone' };
      if (Number.isFinite(choice.concurrency)) {
        const [busy] = await countRunning.execute({ actuator: choice.key });
        if ((busy?.n ?? 0) > choice.concurrency) {
          // Ours is counted in: the others hold the rest.
          full.push(`${choice.key} (${Math.max(0, (busy?.n ?? 0) - 1)} of ${choice.concurrency} busy)`);
          await db
            .update(taskRuns)
            .set({ status: 'queued', actuator: null, worker: null, startedAt: null, leaseUntil: null, updatedAt: sql`now()` })
            .where(and(mine, eq(taskRuns.status, 'running'), eq(taskRuns.worker, deps.workerId)));
          continue;
        }
      }
      return { kind: 'claimed', actuator: choice, run: row.run };
    }
    const ms = Math.round((deps.busyRetryMs ?? 1_000) * (0.5 + Math.random()));
    return { kind: 'wait', ms, why: `every matching actuator is busy (${choices.map((c) => c.key).join(', ')})`, busy: full.join(', ') };
  }

  /** Renews the lease; says whether the attempt is still ours and whether the run is being stopped. */
  async function renew(runId: string, name: string, attempt: number): Promise<{ ours: boolean; stop: string | null }> {
    const renewed = await db
      .update(taskRuns)
      .set({ leaseUntil: sql`now() + ${deps.leaseMs}::double precision * interval '1 millisecond'` })
      .where(and(eq(taskRuns.runId, runId), eq(taskRuns.name, name), eq(taskRuns.attempt, attempt), eq(taskRuns.status, 'running')))
      // One statement: the run's stop request comes back with the renewal.
      .returning({ stop: sql<string | null>`(select ${runs.stopRequested} from ${runs} where ${runs.id} = ${taskRuns.runId})` });
    return { ours: renewed.length > 0, stop: renewed[0]?.stop ?? null };
  }

  /** A system line in the attempt's log before it runs. */
  async function noteWaiting(runId: string, task: string, attempt: number, text: string): Promise<void> {
    await db.insert(logChunks).values({ runId, task, attempt, lines: [{ at: Date.now(), stream: 'system', text }] });
  }

  async function execute(run: RunRow, name: string, attempt: number, actuator: ActuatorChoice, jobSignal: AbortSignal, taskLog: Logger): Promise<AttemptResult> {
    const runId = run.id;
    const plan = await engine.taskPlan(runId, name, run);
    if (!plan) return { status: 'failed', exitCode: null, outputs: {}, error: `task ${name} of run ${runId} is not in its pipeline` };
    const type = (plan.task.type ?? 'local') as RunnerType;
    const local = actuator.actuator.spec.local;
    // `finally` tasks run after a cancel or a timeout too: the stop does not apply to them.
    const isFinally = plan.pipeline.spec.finally?.some((t) => t.name === name) ?? false;
    let execution;
    try {
      execution = taskExecution({
        runId,
        task: plan.task as Task,
        attempt,
        context: plan.context,
        secret: (secretName) => deps.secret(plan.run.source, secretName),
        defaults: { shell: local?.shell, workdir: local?.workdir },
        ...(plan.run.deadlineAt && !isFinally ? { runTimeLeftMs: Math.max(1, plan.run.deadlineAt.getTime() - Date.now()) } : {}),
      });
    } catch (error) {
      return { status: 'failed', exitCode: null, outputs: {}, error: error instanceof Error ? error.message : String(error) };
    }
    const log = createLogWriter(db, { runId, task: name, attempt }, {
      ...(deps.taskLogBytes === undefined ? {} : { maxBytes: deps.taskLogBytes }),
      onError: (error) => taskLog.warn({ err: error }, 'log lines not stored'),
    });
    log.write({ at: Date.now(), stream: 'system', text: `attempt ${attempt} on actuator ${actuator.key} (worker ${deps.workerId})` });
    const abort = new AbortController();
    let stoppedAs: 'cancelled' | 'timed_out' | 'lost' | 'shutdown' | undefined;
    // Why a timed_out stop happened: the run's timeout, or the task's own (enforced here when the runner did not).
    let timedOutWhy = 'the run timed out';
    const stopGraceMs = deps.stopGraceMs ?? 45_000;
    let abandon!: () => void;
    const abandoned = new Promise<'abandoned'>((resolve) => (abandon = () => resolve('abandoned')));
    let graceTimer: NodeJS.Timeout | undefined;
    const stopWith = (why: typeof stoppedAs) => {
      stoppedAs ??= why;
      abort.abort();
      graceTimer ??= setTimeout(abandon, stopGraceMs);
    };
    const taskTimeout =
      execution.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => {
              timedOutWhy = `timed out after ${secondsText(execution.timeoutMs!)}`;
              log.write({ at: Date.now(), stream: 'system', text: `${timedOutWhy} and the ${type} runner has not stopped it: stopping the attempt` });
              stopWith('timed_out');
            },
            Math.min(execution.timeoutMs + TIMEOUT_SLACK_MS, MAX_TIMER_MS),
          );
    const onJobAbort = () => stopWith('shutdown');
    jobSignal.addEventListener('abort', onJobAbort, { once: true });
    // Already closing (the listener above never fires for a past abort): stop at once.
    if (jobSignal.aborted) onJobAbort();
    const heartbeat = setInterval(() => {
      renew(runId, name, attempt)
        .then(({ ours, stop }) => {
          if (!ours) stopWith('lost');
          else if (!isFinally && (stop === 'cancelled' || stop === 'timed_out')) stopWith(stop);
        })
        .catch((error: unknown) => taskLog.warn({ err: error }, 'lease not renewed'));
    }, Math.max(200, Math.floor(deps.leaseMs / 3)));
    let result: TaskResult;
    const started = performance.now();
    // Lines a runner still sends after the attempt ended without it are dropped.
    let open = true;
    const running = deps.runners.use(actuator, (runner) => runner.run(execution, { onLine: (line) => open && log.write(line), signal: abort.signal }));
    try {
      const ended = await Promise.race([running, abandoned]);
      if (ended === 'abandoned') {
        open = false;
        const why = stoppedAs === 'timed_out' ? timedOutWhy : stoppedAs === 'shutdown' ? 'the worker shut down' : stoppedAs === 'lost' ? 'the attempt was lost' : 'cancelled';
        log.write({ at: Date.now(), stream: 'system', text: `the ${type} runner did not end the attempt within ${secondsText(stopGraceMs)} of the stop (${why}); the attempt ends without it, and the runner's cleanup goes on in the background` });
        running.then(
          (late) => taskLog.info({ status: late.status }, 'runner ended an attempt after it was given up'),
          (error: unknown) => taskLog.warn({ err: error }, 'runner failed after its attempt was given up'),
        );
        result = { status: stoppedAs === 'timed_out' ? 'timed_out' : 'cancelled', exitCode: null, outputs: {}, error: `${why}; the ${type} runner did not confirm the stop` };
      } else result = ended;
    } catch (error) {
      result = { status: 'failed', exitCode: null, outputs: {}, error: `the ${type} runner could not run the task: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      open = false;
      clearInterval(heartbeat);
      clearTimeout(taskTimeout);
      clearTimeout(graceTimer);
      jobSignal.removeEventListener('abort', onJobAbort);
    }
    if (result.status === 'cancelled' && stoppedAs === 'timed_out') result = { ...result, status: 'timed_out', error: timedOutWhy };
    // The worker is shutting down and stopped waiting for the task: it goes back to the queue, a new attempt not counted against its retries.
    const handedBack = stoppedAs === 'shutdown' && (result.status === 'cancelled' || result.status === 'failed');
    if (handedBack) result = { ...result, status: 'failed', error: `interrupted: the worker (${deps.workerId}) shut down and handed the task back` };
    const seconds = (performance.now() - started) / 1000;
    deps.metrics?.taskFinished(type, result.status, seconds);
    taskLog.info({ runner: type, actuator: actuator.key, status: result.status, exitCode: result.exitCode, durationMs: Math.round(seconds * 1000) }, 'task attempt ended');
    log.write({ at: Date.now(), stream: 'system', text: `${result.status.replace('_', ' ')}${result.exitCode !== null ? ` (exit code ${result.exitCode})` : ''}${result.error ? `: ${result.error}` : ''}` });
    // The last lines travel with the result and are stored in the same transaction.
    const logTail = await log.drain();
    // Outputs are stored and shown: a secret a task wrote into one is masked there too.
    const mask = createMasker(execution.secrets);
    const outputs = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, mask(v)]));
    return { status: result.status, exitCode: result.exitCode, outputs, logTail, ...(result.error ? { error: mask(result.error) } : {}), ...(handedBack ? { handedBack: true } : {}) };
  }

  return async ({ runId, task, attempt }, ctx) => {
    // Every line about this attempt carries its run, task and attempt.
    const taskLog = logger.child({ runId, task, attempt });
    let claimed: { actuator: ActuatorChoice; run: RunRow } | undefined;
    let waitingSince: number | undefined;
    let saidBusy: string | undefined;
    for (;;) {
      // A closing worker takes no new task: the job is given back and runs again elsewhere.
      if (ctx.signal.aborted) throw new Error(`task ${task} of run ${runId} was not started: the worker is closing`);
      const outcome = await claim(runId, task, attempt);
      if (outcome.kind === 'gone') return;
      if (outcome.kind === 'elsewhere') return noteAgentWait(db, { runId, task, attempt }, outcome.agents);
      if (outcome.kind === 'claimed') {
        claimed = outcome;
        break;
      }
      if (outcome.kind === 'failed') {
        await engine.abandonTask(runId, task, attempt, outcome.error);
        return;
      }
      if (waitingSince === undefined) {
        waitingSince = Date.now();
        taskLog.info({ why: outcome.why }, 'task waits');
      }
      // Said in the task's own log once per reason, so whoever looks at a queued task sees why it waits.
      if (outcome.busy && outcome.busy !== saidBusy) {
        saidBusy = outcome.busy;
        await noteWaiting(runId, task, attempt, `waiting for a free slot on actuator ${outcome.busy}`).catch((error: unknown) => taskLog.warn({ err: error }, 'waiting line not stored'));
      }
      // Given back (not completed) when the worker closes: the job runs again elsewhere.
      if (ctx.signal.aborted) throw new Error(`task ${task} of run ${runId} was still waiting (${outcome.why}) when the worker closed`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(outcome.ms, 5_000)));
    }
    await deps.onStarted?.(claimed.run, task, attempt).catch((error: unknown) => taskLog.warn({ err: error }, 'task.started event not recorded'));
    const result = await execute(claimed.run, task, attempt, claimed.actuator, ctx.signal, taskLog);
    if (result.status !== 'succeeded') taskLog.info({ status: result.status, error: result.error }, 'task did not succeed');
    await engine.completeTask(runId, task, attempt, result);
  };
}

function secondsText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
