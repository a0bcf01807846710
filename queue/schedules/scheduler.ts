// Turns schedule triggers into events: every `intervalMs`, each process computes the ticks that
// fell due since its last look and offers one event per tick. Exactly once across any number of
// processes without coordination: a tick's delivery id is the same everywhere, and the events
// table keeps one row per (source, delivery id). Ticks missed while no process ran are not
// replayed; a process that starts looks forward from its start.
import { and, eq, isNull, sql } from 'drizzle-orm';
import { definitions, type Db } from '../../schemas/database/index.js';
import { dueTicks, tickDeliveryId, type ScheduledTrigger } from './due-ticks.js';

export interface SchedulerDeps {
  db: Db;
  /** Persists an event (idempotent by source and delivery id) and enqueues it. */
  accept(event: { source: 'schedule'; type: string; subject: string; deliveryId: string; headers: Record<string, string>; labels: Record<string, string>; body: unknown }): Promise<{ duplicate: boolean }>;
  now?: () => Date;
  intervalMs?: number;
  /** The first tick also fires ticks due this long before the start (ticks are idempotent, so ones already fired are not fired again); default 0. */
  catchUpMs?: number;
  reportError(error: unknown, context: string): void;
}

export interface Scheduler {
  /** One look: offers the ticks due since the last one; resolves with how many were new here. */
  tick(): Promise<number>;
  /** Idempotent. */
  stop(): Promise<void>;
}

/** Active triggers with a schedule, from every source's active revision. */
export async function scheduledTriggers(db: Db): Promise<ScheduledTrigger[]> {
  const rows = await db
    .select({ source: definitions.source, name: definitions.name, spec: definitions.spec })
    .from(definitions)
    .where(and(eq(definitions.kind, 'Trigger'), isNull(definitions.removedRevisionId), sql`${definitions.spec} ? 'schedule'`));
  return rows.map((r) => {
    const spec = r.spec as { schedule: string; timezone?: string };
    return { source: r.source, trigger: r.name, schedule: spec.schedule, ...(spec.timezone ? { timezone: spec.timezone } : {}) };
  });
}

export function startScheduler(deps: SchedulerDeps): Scheduler {
  const now = deps.now ?? (() => new Date());
  let last = new Date(now().getTime() - (deps.catchUpMs ?? 0));
  let running: Promise<number> | undefined;
  let stopped = false;

  const tick = () =>
    (running ??= (async () => {
      const to = now();
      const from = last;
      let created = 0;
      try {
        for (const trigger of await scheduledTriggers(deps.db)) {
          for (const at of dueTicks(trigger, from, to)) {
            const result = await deps.accept({
              source: 'schedule',
              type: 'schedule',
              subject: `${trigger.source}/${trigger.trigger}`,
              deliveryId: tickDeliveryId(trigger, at),
              headers: {},
              labels: { source: trigger.source, trigger: trigger.trigger },
              body: { scheduledTime: at.toISOString(), source: trigger.source, trigger: trigger.trigger, schedule: trigger.schedule },
            });
            if (!result.duplicate) created++;
          }
        }
        last = to;
      } catch (error) {
        // `last` stays: the same window is looked at again next time (ticks are idempotent).
        deps.reportError(error, 'schedule tick');
      }
      return created;
    })().finally(() => {
      running = undefined;
    }));

  const timer = setInterval(() => {
    if (!stopped) void tick();
  }, deps.intervalMs ?? 1000);
  timer.unref();
  let stopping: Promise<void> | undefined;
  return {
    tick,
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        clearInterval(timer);
        await running;
      })()),
  };
}
