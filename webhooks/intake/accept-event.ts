// Accepting an event: one INSERT, committed before anyone is told `202` — then the id goes to
// the `events` queue. A delivery seen before (same source and delivery id) is answered with the
// first event's id and creates nothing. If the queue is down, the event is still accepted: the
// sweeper enqueues committed events that never reached the queue.
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { events, type Db } from '../../schemas/database/index.js';

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
  accept(event: IncomingEvent): Promise<AcceptedEvent>;
}

export interface IntakeDeps {
  db: Db;
  /** Puts the event's id on the `events` queue (idempotent by event id). */
  enqueue(eventId: string): Promise<void>;
  /** Told when enqueueing failed (the event stays accepted; the sweeper retries). */
  reportError(error: unknown, context: string): void;
}

export function createIntake(deps: IntakeDeps): Intake {
  return {
    async accept(event) {
      const id = randomUUID();
      const [inserted] = await deps.db
        .insert(events)
        .values({
          id,
          source: event.source,
          type: event.type,
          action: event.action ?? null,
          subject: event.subject ?? null,
          deliveryId: event.deliveryId ?? null,
          headers: event.headers,
          labels: event.labels,
          body: event.body ?? null,
        })
        .onConflictDoNothing({ target: [events.source, events.deliveryId] })
        .returning({ id: events.id });
      if (!inserted) {
        const [first] = await deps.db
          .select({ id: events.id })
          .from(events)
          .where(and(eq(events.source, event.source), eq(events.deliveryId, event.deliveryId as string)));
        if (first) return { eventId: first.id, duplicate: true };
        throw new Error(`event of ${event.source} with delivery ${event.deliveryId} was neither stored nor found`);
      }
      try {
        await deps.enqueue(id);
      } catch (error) {
        deps.reportError(error, `enqueue event ${id}`);
      }
      return { eventId: id, duplicate: false };
    },
  };
}
