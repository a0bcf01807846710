// The sweeper: nothing accepted is lost. An event is committed to Postgres before it is queued,
// so when the queue never got it (the process died between the two, Redis was restarted or
// flushed) the `events` row is still `received`. The sweeper re-enqueues every such row older
// than a grace period as `match-event`; the deterministic job id makes that safe to repeat.
import { and, asc, lt, sql } from 'drizzle-orm';
import { events, type Db } from '../../schemas/database/index.js';
import type { EventopsCatalog } from './catalog.js';
import type { QueueDriver } from './driver.js';

export interface SweepOptions {
  db: Db;
  driver: QueueDriver<EventopsCatalog>;
  /** Only events received longer ago than this (intake normally queues them within milliseconds). */
  olderThanMs: number;
  /** Events read and enqueued per round trip. Default 1,000. */
  batchSize?: number;
}

/**
 * Enqueues `match-event` for every event still `received` after `olderThanMs` (by the database's
 * clock) and returns how many jobs were actually added.
 *
 * Why re-adding is right on both drivers: enqueue is a no-op while a job with the same id exists.
 * A job still waiting or running is therefore not doubled. With BullMQ a completed job is kept
 * for the retention window and its id is NOT re-added during it — but a completed `match-event`
 * has moved its event out of `received`, so the sweeper does not ask. When Redis lost its data
 * (restart without persistence, FLUSHALL, failover to an empty replica) the id is gone with
 * everything else, so BullMQ adds it again: exactly the events that need it are re-queued. The
 * flip side: a job that finished without moving its event out of `received` (a matcher bug, or a
 * job that spent its attempts and left the event as it was) is re-added only once its retained
 * copy expires (24 h completed, 7 days failed), and then runs again. The embedded driver keeps
 * its jobs in the same database as the events, so for it the sweep only catches events whose
 * enqueue never happened (a crash between commit and enqueue).
 */
export async function sweep(options: SweepOptions): Promise<number> {
  const { db, driver } = options;
  const batchSize = options.batchSize ?? 1_000;
  const cutoff = sql`now() - (${Math.max(0, Math.round(options.olderThanMs))}::double precision * interval '1 millisecond')`;
  let added = 0;
  let after: { at: string; id: string } | undefined;
  for (;;) {
    // Pages in the order of the `events_pending` partial index (the literal status lets the
    // planner use it whatever the parameters), keyset on (received_at, id). The time travels as
    // text so the next page starts at the exact microsecond, not a millisecond-rounded Date.
    const rows = await db
      .select({ id: events.id, at: sql<string>`${events.receivedAt}::text` })
      .from(events)
      .where(
        and(
          sql`${events.status} = 'received'`,
          lt(events.receivedAt, cutoff),
          after === undefined ? undefined : sql`(${events.receivedAt}, ${events.id}) > (${after.at}::timestamptz, ${after.id})`,
        ),
      )
      .orderBy(asc(events.receivedAt), asc(events.id))
      .limit(batchSize);
    if (rows.length === 0) break;
    const results = await driver.enqueueMany(rows.map((r) => ({ queue: 'events', job: 'match-event', payload: { eventId: r.id } })));
    added += results.filter((r) => r.added).length;
    after = rows[rows.length - 1];
    if (rows.length < batchSize) break;
  }
  return added;
}

export interface SweeperOptions extends SweepOptions {
  /** Time between sweeps; the first runs at once. */
  intervalMs: number;
  /** A sweep failed (the next one still runs). */
  onError: (error: unknown) => void;
  /** A sweep re-enqueued `count` jobs (called only when count > 0). */
  onSwept?: (count: number) => void;
}

/**
 * Sweeps now and then every `intervalMs` (never two at once). Returns `stop`, which waits for a
 * sweep in progress; idempotent.
 */
export function startSweeper(options: SweeperOptions): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    current = sweep(options)
      .then((count) => {
        if (count > 0) options.onSwept?.(count);
      })
      .catch((error: unknown) => options.onError(error))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalMs);
      });
  };
  tick();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await current;
  };
}
