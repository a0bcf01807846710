// The run engine's `onTransition` for CloudEvents: in the transition's own transaction (under the
// run's lock) the events of the change are numbered after the run's last one and stored in
// `run_events`, and one `publish-run-events` job is returned to enqueue after the commit. So
// every committed transition has its events, in the order the transitions happened.
import { eq, sql } from 'drizzle-orm';
import { runEvents, type RunRow } from '../../schemas/database/index.js';
import type { Job, RunTransition, Tx } from '../runs/index.js';
import { runCloudEvents } from './run-cloud-events.js';

/**
 * `server`: the `<server>` of the events' `source`; `wants`: whether the run's events go anywhere
 * (nothing is written for runs that have no sink); `now`: the clock (injected for tests).
 */
export function recordRunEvents(options: { server: string; wants(run: RunRow, via: Tx): Promise<boolean>; now?: () => Date }): (tx: Tx, change: RunTransition) => Promise<Job[]> {
  const now = options.now ?? (() => new Date());
  return async (tx, change) => {
    if (!(await options.wants(change.run, tx))) return [];
    const pending = runCloudEvents(change, options.server, now());
    if (pending.length === 0) return [];
    const [last] = await tx.select({ seq: sql<number>`coalesce(max(${runEvents.seq}), 0)::int` }).from(runEvents).where(eq(runEvents.runId, change.run.id));
    const first = Number(last?.seq ?? 0) + 1;
    const rows = pending.map((p, i) => ({ runId: change.run.id, seq: first + i, on: p.on, subject: p.subject, event: { ...p.event, id: `${change.run.id}.${first + i}` } }));
    await tx.insert(runEvents).values(rows);
    const seq = first + rows.length - 1;
    return [{ queue: 'reports', job: 'publish-run-events', payload: { runId: change.run.id, seq } }];
  };
}
