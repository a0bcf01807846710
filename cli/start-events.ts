// The event side of `eventops serve`: the queue (BullMQ with REDIS_URL, else embedded in the
// database), the intake that persists then enqueues, the match-event workers, the sweeper that
// re-enqueues what never reached the queue, schedules, the NATS source, the runs' CloudEvents
// (NATS and `notify` sinks), and reconciles asked by GitHub pushes. Built by the composition root; `close()` stops it all in order.
import { eq, and, count, inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/index.js';
import type { Config, SecretStore } from '../config/index.js';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { activeTriggersCache, attemptOwnership, startOrphanReaper, createActuatorRunners, startAgentDispatch, startAgentPresence, createBullmqDriver, createEmbeddedDriver, createRunEngine, createTaskWorker, definitionsAtRevision, matchStoredEvent, startNatsSource, startRunSweeper, startScheduler, startSweeper, createRunEventPublisher, recordRunEvents, recordTaskStarted, type EventopsCatalog, type RecordOptions, type Job, type NatsSource, type Scheduler, type QueueDriver, type RunEngine } from '../queue/index.js';
import { runnerKinds } from './runner-kinds.js';
import { createGithubSide } from './github-reports.js';
import { createDefinitionChecks } from './github-definitions.js';
import { createAgentHub, type AgentHub } from '../runners/index.js';
import { sanitizeUrl, type Reconciler } from '../reconciler/index.js';
import { events, runs, type Database } from '../schemas/database/index.js';
import { createIntake, UnstorableError, type IncomingEvent, type Intake } from '../webhooks/index.js';

/** Jobs per enqueue after matching: the queue driver builds each insert synchronously. */
const ENQUEUE_SLICE = 200;

export interface EventSide {
  intake: Intake;
  /** The agents connected to this process (the api role accepts their connections). */
  agents: AgentHub;
  /** A secret's value for a definition of `source`; throws when the source may not use it or it is unset. */
  secret(source: string, name: string): string;
  driver: QueueDriver<EventopsCatalog>;
  engine: RunEngine;
  /** Schedule triggers (reconciler role): started when this process leads, stopped when it no longer does. `catchUpMs`: also fire ticks of that much past (a new leader covers the gap after the last one). */
  schedules: { start(catchUpMs?: number): void; stop(): Promise<void> };
  close(): Promise<void>;
}

/** What this process does: `api` takes events in (webhooks, API, NATS), `worker` works the queues and sweeps, `reconciler` fires schedules. */
export type Role = 'api' | 'worker' | 'reconciler';
export const ROLES: readonly Role[] = ['api', 'worker', 'reconciler'];

export async function startEvents(config: Config, deps: { database: Database; reconciler: Pick<Reconciler, 'requestReconcile'>; secrets: SecretStore; logger: Logger; queuePrefix?: string; roles?: readonly Role[]; metrics?: Metrics }): Promise<EventSide> {
  const roles = new Set(deps.roles ?? ROLES);
  const { database, logger } = deps;
  const db = database.db;
  const onError = (error: unknown, where: string) => logger.error({ err: error, where }, 'queue error');
  const driver: QueueDriver<EventopsCatalog> = config.redisUrl ? createBullmqDriver({ connection: config.redisUrl, prefix: deps.queuePrefix ?? config.queuePrefix, onError, closeTimeoutMs: config.runs.shutdownTimeoutMs, maxCrashes: config.limits.jobs.maxCrashes }) : createEmbeddedDriver({ db, onError, closeTimeoutMs: config.runs.shutdownTimeoutMs, maxCrashes: config.limits.jobs.maxCrashes });
  logger.info({ queue: config.redisUrl ? 'bullmq' : 'embedded' }, 'queue ready');
  const { metrics } = deps;
  const stored = createIntake({
    db,
    enqueue: async (eventIds) => void (await driver.enqueueMany(eventIds.map((eventId) => ({ queue: 'events', job: 'match-event', payload: { eventId } })))),
    reportError: (error, context) => logger.warn({ err: error, context }, 'event accepted but not enqueued; the sweeper will enqueue it'),
    maxDepth: config.limits.http.maxDepth,
  });
  const intake: Intake = !metrics
    ? stored
    : {
        maxDepth: stored.maxDepth,
        accept: async (event) => {
          const accepted = await stored.accept(event);
          metrics.event(event.source, accepted.duplicate ? 'duplicate' : 'received');
          return accepted;
        },
      };
  metrics?.readOnScrape({
    runsInProgress: async () =>
      db
        .select({ status: runs.status, count: count() })
        .from(runs)
        .where(inArray(runs.status, ['pending', 'running']))
        .groupBy(runs.status),
    queues: () => Promise.all(Object.keys(driver.catalog).map(async (queue) => ({ queue, ...(await driver.stats(queue as keyof EventopsCatalog)) }))),
  });
  const triggers = activeTriggersCache(db);
  /** Stopped in order at close: the scheduler first, then the sweepers. */
  const stops: (() => Promise<void>)[] = [];
  const tasksInFlight = new Set<Promise<void>>();
  const enqueue = async (jobs: readonly Job[]) => void (await driver.enqueueMany(jobs));
  const definitions = definitionsAtRevision(db);
  // `secret` is defined below; the publisher calls it only when it sends.
  const publisher = createRunEventPublisher({ db, definitions, secret: (source, name) => secret(source, name), logger, ...(config.nats ? { nats: { url: config.nats.url, prefix: config.nats.runsPrefix } } : {}) });
  const recording: RecordOptions = { server: config.server.publicUrl ? new URL(config.server.publicUrl).host : 'local', wants: (run, via) => publisher.wants(run, via) };
  const onTransition = recordRunEvents(recording);
  const taskStarted = recordTaskStarted(db, definitions, recording);
  const github = createGithubSide(config, { db, secrets: deps.secrets, ...(metrics ? { onRequest: (method: string, status: number | 'error') => metrics.githubRequest(method, status) } : {}) });
  if (github && metrics) metrics.readOnScrape({ githubRateLimit: () => github.client.rateLimit() });
  const engine = createRunEngine({ db, definitions, enqueue, logger, ...(metrics ? { metrics } : {}), ...(github ? { onRunChange: (run) => github.reportJobs(run) } : {}), onTransition });
  const definitionChecks = createDefinitionChecks(config, { db, client: github?.client, secrets: deps.secrets, enqueue });
  const secret = (source: string, name: string) => {
    const allowed = config.sources.find((s) => s.name === source)?.secrets ?? [];
    if (!allowed.includes(name)) throw new Error(`source ${source} may not use secret ${name}: list it in sources[].secrets of eventops.yaml`);
    const value = deps.secrets.get(name);
    if (value === undefined) throw new Error(`secret ${name} is not set (EVENTOPS_SECRET_${name.toUpperCase()}, or a file in secrets.dir)`);
    return value;
  };
  const workerId = `${hostname()}:${process.pid}`;
  // Which attempts this deployment still owns: runners stop work left by a killed server that nobody owns.
  const ownership = attemptOwnership(db);
  const agents = createAgentHub({ log: (event, fields) => logger.info(fields, event), ownership });
  const runners = createActuatorRunners({ kinds: runnerKinds({ workRoot: join(config.dataDir, 'work'), workerId, agents, dockerApiTimeoutMs: config.limits.docker.apiTimeoutMs, ownership }), secret });
  const comments = github?.commentCommands({
    definitions,
    engine,
    startRuns: (runIds) => enqueue(runIds.flatMap((runId) => [{ queue: 'runs' as const, job: 'start-run' as const, payload: { runId } }, ...github.reportJobs({ id: runId, version: '' })])),
  });
  const runTask = createTaskWorker({
    db,
    engine,
    definitions,
    runners,
    secret,
    workerId,
    leaseMs: config.runs.leaseMs,
    // A docker runner's own bound after a stop is its kill grace (5 s) plus one API deadline; a bit more here, so it normally reports the end itself.
    stopGraceMs: config.limits.docker.apiTimeoutMs + 15_000,
    logger,
    taskLogBytes: config.limits.logs.taskLogBytes,
    onStarted: async (run, task, attempt) => {
      const jobs = await taskStarted(run, task, attempt);
      if (jobs.length > 0) await enqueue(jobs);
    },
    ...(metrics ? { metrics } : {}),
    agentHere: (id) => agents.connected(id),
  });
  const agentDispatch = startAgentDispatch({ db, runTask, anyAgentHere: () => agents.agents().length > 0, logger });
  agents.onConnect(() => agentDispatch.poke());
  const presence = startAgentPresence({ db, hub: agents, workerId, logger });
  if (roles.has('worker')) {
  await driver.work(
    {
      'match-event': async ({ eventId }) => {
        const started = performance.now();
        const outcome = await matchStoredEvent({ db, triggers, limits: config.limits.matching, ...(github ? { checkPermission: github.checkPermission } : {}) }, eventId);
        if (outcome && metrics) {
          metrics.matchDuration((performance.now() - started) / 1000);
          metrics.event(outcome.source, outcome.status);
        }
        if (outcome) logger.child({ eventId }).info({ source: outcome.source, status: outcome.status, runs: outcome.runIds.length, runIds: outcome.runIds }, 'event matched');
        // A comment with slash-commands is answered (reactions, built-in commands, a reply) once matched.
        const answer: Job[] = github && outcome?.commands ? [{ queue: 'reports', job: 'answer-comment', payload: { eventId } }] : [];
        if (outcome && outcome.runIds.length + answer.length > 0) {
          // Lost here, the runs are started by the run sweeper (they stay pending in the database).
          const reports = github ? outcome.runIds.flatMap((runId) => github.reportJobs({ id: runId, version: '' })) : [];
          const jobs: Job[] = [...outcome.runIds.map((runId) => ({ queue: 'runs' as const, job: 'start-run' as const, payload: { runId } })), ...reports, ...answer];
          // In slices with the event loop let run between them: one event may start 10,000 runs.
          for (let at = 0; at < jobs.length; at += ENQUEUE_SLICE) {
            if (at > 0) await yieldToLoop();
            await enqueue(jobs.slice(at, at + ENQUEUE_SLICE)).catch((error: unknown) => onError(error, 'enqueue start-run'));
          }
        }
        await definitionChecks?.enqueueFor(eventId);
      },
      'start-run': async ({ runId }) => engine.startRun(runId),
      'run-timeout': async ({ runId }) => void (await engine.stopRun(runId, 'timed_out', 'the run timed out')),
      // Tracked: a worker that stops waiting for a task at shutdown still records it handed back before the database closes.
      'run-task': (payload, ctx) => {
        const running = runTask(payload, ctx);
        tasksInFlight.add(running);
        return running.finally(() => tasksInFlight.delete(running));
      },
      // Without GitHub configured no report job is enqueued; one left from an earlier configuration does nothing.
      'report-run': async ({ runId }) => github?.reporter.report(runId),
      'answer-comment': async ({ eventId }) => comments?.answer(eventId),
      'check-definitions': async ({ eventId }, ctx) => definitionChecks?.run(eventId, ctx),
      'publish-run-events': async ({ runId }) => publisher.publish(runId),
    },
    {
      concurrency: config.runs.concurrency,
      onFailed: (failure) => {
        if (failure.parked) logger.error({ err: failure.error, job: failure.id, attempt: failure.attempt, final: true }, `${failure.job} parked after a crash loop`);
        else logger.warn({ err: failure.error, job: failure.id, attempt: failure.attempt, final: failure.final }, `${failure.job} failed`);
        // A task whose job gave up would stay queued (its id is kept, so the sweeper cannot add it again): fail the attempt.
        const lost = /^run-task:([^:]+):([^:]+):(\d+)$/.exec(failure.id);
        if (failure.final && lost) {
          const why = `the worker could not run it: ${failure.error instanceof Error ? failure.error.message : String(failure.error)}`;
          engine.abandonTask(lost[1] as string, lost[2] as string, Number(lost[3]), why).catch((error: unknown) => onError(error, 'fail an abandoned task'));
        }
        const eventId = (failure.id.match(/^match-event:(.+)$/) ?? [])[1];
        if (failure.final && eventId) {
          db.update(events)
            .set({ status: 'failed', verdicts: [{ verdict: 'failed', reason: String(failure.error instanceof Error ? failure.error.message : failure.error) }] })
            .where(and(eq(events.id, eventId), eq(events.status, 'received')))
            .returning({ source: events.source })
            .then(([failed]) => failed && metrics?.event(failed.source, 'failed'))
            .catch((error: unknown) => onError(error, 'mark event failed'));
        }
      },
    },
  );
  // Work of a killed server's attempts (containers, remote process groups) is stopped.
  const reaper = startOrphanReaper({ db, runners, logger, intervalMs: config.queue.sweepIntervalMs });
  stops.push(() => reaper.close());
  // Events committed but not enqueued (the queue was down, Redis lost its data) are enqueued again.
  const stopSweeper = startSweeper({ db, driver, olderThanMs: config.queue.sweepAfterMs, intervalMs: config.queue.sweepIntervalMs, onError: (e) => onError(e, 'sweeper'), onSwept: (count) => logger.info({ count }, 're-enqueued events that never reached the queue') });
  stops.push(stopSweeper);
  stops.push(
    startRunSweeper({
      db,
      engine,
      enqueue: (jobs) => driver.enqueueMany(jobs),
      // Without GitHub configured there is nothing to report.
      ...(github ? { reportJobs: github.reportJobs } : {}),
      olderThanMs: config.queue.sweepAfterMs,
      intervalMs: config.queue.sweepIntervalMs,
      onError: (e) => onError(e, 'run sweeper'),
      onSwept: (sweep) => logger.info({ sweep }, 'run sweeper repaired runs'),
    }),
  );
  }
  // Schedule triggers fire in the reconciler role's leader only (started and stopped by the composition root).
  let scheduler: Scheduler | undefined;
  const schedules = {
    start: (catchUpMs = 0) => {
      if (!scheduler && roles.has('reconciler')) scheduler = startScheduler({ db, accept: (e) => intake.accept(e), reportError: (e, context) => onError(e, context), catchUpMs });
    },
    stop: async () => {
      const stopping = scheduler;
      scheduler = undefined;
      await stopping?.stop();
    },
  };
  stops.unshift(() => schedules.stop());
  let nats: NatsSource | undefined;
  const natsIn = config.nats?.stream !== undefined && config.nats.subjects.length > 0 ? { ...config.nats, stream: config.nats.stream } : undefined;
  if (natsIn && roles.has('api')) {
    nats = await startNatsSource({ ...natsIn, accept: (e) => intake.accept(e), reportError: (e, context) => onError(e, context), isPermanent: (e) => e instanceof UnstorableError });
    logger.info({ stream: natsIn.stream, subjects: natsIn.subjects }, 'NATS source ready');
  }
  let closing: Promise<void> | undefined;
  return {
    intake,
    agents,
    secret,
    driver,
    engine,
    schedules,
    close: () =>
      (closing ??= (async () => {
        await nats?.close();
        for (const stop of stops) await stop();
        await driver.close();
        // Aborted by the driver's close, a task is being stopped and handed back: let it record that.
        await Promise.race([Promise.allSettled([...tasksInFlight]), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
        await publisher.close();
        // Agents' tasks are cancelled; their agents get a few seconds to say so, then they are failed here.
        const dispatchClosed = agentDispatch.close();
        await Promise.race([dispatchClosed, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
        await presence.close();
        await agents.close();
        await dispatchClosed;
        await runners.close();
      })()),
  };
}

/** Sources whose repository a GitHub push went to (and whose ref it moved, when a ref is set). */
export function sourcesPushedTo(event: IncomingEvent, sources: Config['sources']): string[] {
  if (event.source !== 'github' || event.type !== 'push') return [];
  const body = event.body as { ref?: string; repository?: { clone_url?: string; html_url?: string; full_name?: string } } | null;
  const repo = body?.repository;
  const urls = [repo?.clone_url, repo?.html_url].filter((u): u is string => typeof u === 'string').map(repoKey);
  return sources
    .filter((s) => s.type === 'git' && urls.includes(repoKey(s.url as string)))
    .filter((s) => !s.ref || body?.ref === `refs/heads/${s.ref}` || body?.ref === `refs/tags/${s.ref}`)
    .map((s) => s.name);
}

function repoKey(url: string): string {
  return sanitizeUrl(url).toLowerCase().replace(/^https?:\/\//, '').replace(/\.git$/, '').replace(/\/+$/, '');
}
