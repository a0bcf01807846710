// `GET /api/v1/counts`: how many runs are in each status, events in each status and sources in
// each state of their `Ready` condition — the numbers a dashboard's header or a status check
// needs, in one answer and three grouped queries. Every known status is present (0 when none).
import { count, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { events, runs, sources, type Db } from '../../schemas/database/index.js';
import { RUN_STATUSES } from './run-types.js';

/** The statuses an event goes through: `received`, then one of the others once matched. */
export const EVENT_STATUSES = ['received', 'matched', 'unmatched', 'failed'] as const;
const READY_STATUSES = ['True', 'False', 'Unknown'] as const;

export interface CountsAnswer {
  runs: Record<string, number>;
  events: Record<string, number>;
  /** By the status of each source's `Ready` condition (`Unknown` before its first reconcile). */
  sources: Record<string, number>;
}

/** Mounted under `/api/v1`. */
export function countsRoutes(deps: { db: Db }): Hono {
  const routes = new Hono();
  routes.get('/counts', async (c) => c.json(await readCounts(deps.db)));
  return routes;
}

export async function readCounts(db: Db): Promise<CountsAnswer> {
  const ready = sql<string>`coalesce((select c->>'status' from jsonb_array_elements(${sources.conditions}) as c where c->>'type' = 'Ready' limit 1), 'Unknown')`;
  const [runRows, eventRows, sourceRows] = await Promise.all([
    db.select({ key: runs.status, n: count() }).from(runs).groupBy(runs.status),
    db.select({ key: events.status, n: count() }).from(events).groupBy(events.status),
    db.select({ key: ready, n: count() }).from(sources).groupBy(ready),
  ]);
  return { runs: tally(RUN_STATUSES, runRows), events: tally(EVENT_STATUSES, eventRows), sources: tally(READY_STATUSES, sourceRows) };
}

/** Every known key with its count (0 when absent), and any other key the table holds. */
function tally(known: readonly string[], rows: ReadonlyArray<{ key: string; n: number }>): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(known.map((k) => [k, 0]));
  for (const row of rows) out[row.key] = Number(row.n);
  return out;
}
