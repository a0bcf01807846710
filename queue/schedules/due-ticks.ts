// When schedule triggers fire: the ticks of a cron expression in a time window. Pure (croner),
// with the window given by the caller's clock.
import { Cron } from 'croner';

export interface ScheduledTrigger {
  source: string;
  trigger: string;
  schedule: string;
  timezone?: string;
}

/** Ticks in (from, to], oldest first, at most `limit` (a long pause does not flood). */
export function dueTicks(trigger: ScheduledTrigger, from: Date, to: Date, limit = 100): Date[] {
  const cron = new Cron(trigger.schedule, { paused: true, ...(trigger.timezone ? { timezone: trigger.timezone } : {}) });
  const ticks: Date[] = [];
  let next = cron.nextRun(from);
  while (next && next.getTime() <= to.getTime() && ticks.length < limit) {
    ticks.push(next);
    next = cron.nextRun(next);
  }
  return ticks;
}

/** The delivery id of a tick: the same in every process, so the events table stores it once. */
export function tickDeliveryId(trigger: ScheduledTrigger, tick: Date): string {
  return `${trigger.source}/${trigger.trigger}@${tick.toISOString()}`;
}
