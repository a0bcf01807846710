// Accepting an event: an INSERT committed before anyone is told `202` — then the id goes to the
// `events` queue. A delivery seen before (same source and delivery id) is answered with the
// first event's id and creates nothing. If the queue is down, the event is still accepted: the
// sweeper enqueues committed events that never reached the queue.
//
// Events that arrive together are stored together (group commit): one INSERT of many rows, one
// round trip to the queue for their ids. Each caller still waits for its own row's commit. A
// batch the database refuses is retried row by row, so one bad event fails only itself.
//
// Before any of that, every field is checked for what PostgreSQL cannot store (a NUL, a lone
// surrogate, nesting past limits.http.maxDepth): every way in (webhooks, the API, NATS,
// schedules) passes here, so such an event is a 400 naming the field, never a failed INSERT.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { DEFAULT_LIMITS } from '../../config/index.js';
import type { Db } from '../../schemas/database/index.js';
import { microBatch } from './micro-batch.js';
import { checkStorable } from './storable.js';

/** An event as a receiver read it, before it has an id. */
export interface IncomingEvent {
  source: string;
  type: string;
  action?: string;
  subject?: string;
  deliveryId?: string;
  headers: Record<string, string>;
  labels: Record<string, string>;
  body: unknown;
}

export interface AcceptedEvent {
  eventId: string;
  duplicate: boolean;
}

export interface Intake {
  /** Stores the event; one PostgreSQL cannot store (see checkStorable) is refused with an UnstorableError (an ApiError 400). */
  accept(event: IncomingEvent): Promise<AcceptedEvent>;
  /** Deepest nesting of objects and lists a body may have (limits.http.maxDepth): receivers check it as they parse. */
  readonly maxDepth: number;
}

export interface IntakeDeps {
  db: Db;
  /** Puts the events' ids on the `events` queue (idempotent by event id). */
  enqueue(eventIds: readonly string[]): Promise<void>;
  /** Told when enqueueing failed (the events stay accepted; the sweeper retries). */
  reportError(error: unknown, context: string): void;
  /** limits.http.maxDepth; default DEFAULT_LIMITS'. */
  maxDepth?: number;
}

/** Most events in one INSERT, and most INSERTs running at once. */
const BATCH = { maxSize: 64, maxInFlight: 4 };

export function createIntake(deps: IntakeDeps): Intake {
  const store = async (batch: readonly IncomingEvent[]): Promise<PromiseSettledResult<AcceptedEvent>[]> => {
    let accepted: AcceptedEvent[];
    try {
      accepted = await insertEvents(deps.db, batch);
    } catch (error) {
      if (batch.length === 1) throw error;
      return Promise.allSettled(batch.map(async (event) => (await insertEvents(deps.db, [event]))[0] as AcceptedEvent));
    }
    await enqueueNew(accepted);
    return accepted.map((value) => ({ status: 'fulfilled', value }));
  };
  const enqueueNew = async (accepted: readonly AcceptedEvent[]) => {
    const ids = accepted.filter((a) => !a.duplicate).map((a) => a.eventId);
    if (ids.length === 0) return;
    try {
      await deps.enqueue(ids);
    } catch (error) {
      deps.reportError(error, `enqueue events ${ids.join(', ')}`);
    }
  };
  const maxDepth = deps.maxDepth ?? DEFAULT_LIMITS.http.maxDepth;
  const batched = microBatch(store, BATCH);
  return {
    maxDepth,
    accept: async (event) => {
      checkEvent(event, maxDepth);
      return batched(event);
    },
  };
}

/** Refuses (400, naming the field) an event with a value PostgreSQL cannot store. */
function checkEvent(event: IncomingEvent, maxDepth: number): void {
  checkStorable(event.type, 'type');
  checkStorable(event.action, 'action');
  checkStorable(event.subject, 'subject');
  checkStorable(event.deliveryId, 'the delivery id');
  checkStorable(event.headers, 'headers');
  checkStorable(event.labels, 'labels');
  checkStorable(event.body, 'body', maxDepth);
}

type Rows<R> = { rows: R[] };

/**
 * One INSERT for the batch: the rows travel as one JSON parameter spread by `jsonb_to_recordset`
 * (as definitions do). Rows that hit the (source, delivery id) unique index are looked up, so a
 * redelivery — even one inside the same batch — gets the first event's id.
 */
async function insertEvents(db: Db, batch: readonly IncomingEvent[]): Promise<AcceptedEvent[]> {
  const ids = batch.map(() => randomUUID());
  const json = JSON.stringify(
    batch.map((e, n) => ({ i: ids[n], s: e.source, t: e.type, a: e.action ?? null, j: e.subject ?? null, d: e.deliveryId ?? null, h: e.headers, l: e.labels, b: e.body ?? null })),
  );
  const inserted = (await db.execute(sql`insert into events (id, source, type, action, subject, delivery_id, headers, labels, body)
    select i, s, t, a, j, d, h, l, case when jsonb_typeof(b) = 'null' then null else b end
    from jsonb_to_recordset(${json}::jsonb) as r(i text, s text, t text, a text, j text, d text, h jsonb, l jsonb, b jsonb)
    on conflict (source, delivery_id) do nothing
    returning id`)) as unknown as Rows<{ id: string }>;
  const stored = new Set(inserted.rows.map((r) => r.id));
  const missing = batch.filter((_, n) => !stored.has(ids[n] as string));
  const first = new Map<string, string>();
  if (missing.length > 0) {
    const keys = JSON.stringify(missing.map((e) => ({ s: e.source, d: e.deliveryId })));
    const found = (await db.execute(sql`select e.id, e.source, e.delivery_id from events e
      join jsonb_to_recordset(${keys}::jsonb) as k(s text, d text) on e.source = k.s and e.delivery_id = k.d`)) as unknown as Rows<{ id: string; source: string; delivery_id: string }>;
    for (const row of found.rows) first.set(`${row.source}\0${row.delivery_id}`, row.id);
  }
  return batch.map((event, n) => {
    const id = ids[n] as string;
    if (stored.has(id)) return { eventId: id, duplicate: false };
    const earlier = first.get(`${event.source}\0${event.deliveryId}`);
    if (earlier) return { eventId: earlier, duplicate: true };
    throw new Error(`event of ${event.source} with delivery ${event.deliveryId} was neither stored nor found`);
  });
}
