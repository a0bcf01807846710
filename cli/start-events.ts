// The event side of `eventops serve`: the queue (BullMQ with REDIS_URL, else embedded in the
// database), the intake that persists then enqueues, the match-event workers, the sweeper that
// re-enqueues what never reached the queue, schedules, the NATS source, and reconciles asked by
// GitHub pushes. Built by the composition root; `close()` stops it all in order.
import { eq, and } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Config, SecretStore } from '../config/index.js';
import { activeTriggersCache, createBullmqDriver, createEmbeddedDriver, matchStoredEvent, startNatsSource, startScheduler, startSweeper, type EventopsCatalog, type NatsSource, type QueueDriver } from '../queue/index.js';
import { sanitizeUrl, type Reconciler } from '../reconciler/index.js';
import { events, type Database } from '../schemas/database/index.js';
import { createIntake, type IncomingEvent, type Intake } from '../webhooks/index.js';

export interface EventSide {
  intake: Intake;
  driver: QueueDriver<EventopsCatalog>;
  close(): Promise<void>;
}

export async function startEvents(config: Config, deps: { database: Database; reconciler: Pick<Reconciler, 'requestReconcile'>; secrets: SecretStore; logger: Logger; queuePrefix?: string }): Promise<EventSide> {
  const { database, logger } = deps;
  const db = database.db;
  const onError = (error: unknown, where: string) => logger.error({ err: error, where }, 'queue error');
  const driver: QueueDriver<EventopsCatalog> = config.redisUrl ? createBullmqDriver({ connection: config.redisUrl, prefix: deps.queuePrefix ?? 'eventops', onError }) : createEmbeddedDriver({ db, onError });
  logger.info({ queue: config.redisUrl ? 'bullmq' : 'embedded' }, 'queue ready');
  const intake = createIntake({
    db,
    enqueue: async (eventIds) => void (await driver.enqueueMany(eventIds.map((eventId) => ({ queue: 'events', job: 'match-event', payload: { eventId } })))),
    reportError: (error, context) => logger.warn({ err: error, context }, 'event accepted but not enqueued; the sweeper will enqueue it'),
  });
  const triggers = activeTriggersCache(db);
  await driver.work(
    {
      'match-event': async ({ eventId }) => {
        const outcome = await matchStoredEvent({ db, triggers }, eventId);
        if (outcome) logger.info({ eventId, status: outcome.status, runs: outcome.runIds.length }, 'event matched');
      },
    },
    {
      concurrency: 8,
      onFailed: (failure) => {
        logger.warn({ err: failure.error, job: failure.id, attempt: failure.attempt, final: failure.final }, 'match-event failed');
        const eventId = (failure.id.match(/^match-event:(.+)$/) ?? [])[1];
        if (failure.final && eventId) {
          db.update(events)
            .set({ status: 'failed', verdicts: [{ verdict: 'failed', reason: String(failure.error instanceof Error ? failure.error.message : failure.error) }] })
            .where(and(eq(events.id, eventId), eq(events.status, 'received')))
            .catch((error: unknown) => onError(error, 'mark event failed'));
        }
      },
    },
  );
  // Events committed but not enqueued (the queue was down, Redis lost its data) are enqueued again.
  const stopSweeper = startSweeper({ db, driver, olderThanMs: config.queue.sweepAfterMs, intervalMs: config.queue.sweepIntervalMs, onError: (e) => onError(e, 'sweeper'), onSwept: (count) => logger.info({ count }, 're-enqueued events that never reached the queue') });
  const scheduler = startScheduler({ db, accept: (e) => intake.accept(e), reportError: (e, context) => onError(e, context) });
  let nats: NatsSource | undefined;
  if (config.nats) {
    nats = await startNatsSource({ ...config.nats, accept: (e) => intake.accept(e), reportError: (e, context) => onError(e, context) });
    logger.info({ stream: config.nats.stream, subjects: config.nats.subjects }, 'NATS source ready');
  }
  let closing: Promise<void> | undefined;
  return {
    intake,
    driver,
    close: () =>
      (closing ??= (async () => {
        await nats?.close();
        await scheduler.stop();
        await stopSweeper();
        await driver.close();
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
