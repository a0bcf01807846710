// Schedules against a real PostgreSQL database: two schedulers (two processes' connections) on
// one database produce exactly one event per tick; the tick arithmetic itself is pure.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definitions, events, openDatabase, revisions, sources, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createIntake } from '../../webhooks/intake/accept-event.js';
import { dueTicks } from './due-ticks.js';
import { startScheduler } from './scheduler.js';

describe('dueTicks', () => {
  it('lists the ticks in (from, to] in the trigger time zone, bounded', () => {
    const nightly = { source: 's', trigger: 't', schedule: '0 3 * * *', timezone: 'Europe/Paris' };
    const ticks = dueTicks(nightly, new Date('2026-03-28T00:00:00Z'), new Date('2026-03-31T00:00:00Z'));
    // Paris moves to summer time on 29 March: 03:00 is 02:00Z before, 01:00Z after.
    expect(ticks.map((t) => t.toISOString())).toEqual(['2026-03-28T02:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T01:00:00.000Z']);
    expect(dueTicks({ source: 's', trigger: 't', schedule: '* * * * *' }, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-02T00:00:00Z'), 5)).toHaveLength(5);
    expect(dueTicks({ source: 's', trigger: 't', schedule: '*/10 * * * *' }, new Date('2026-01-01T00:10:00Z'), new Date('2026-01-01T00:20:00Z')).map((t) => t.toISOString())).toEqual(['2026-01-01T00:20:00.000Z']);
  });
});

describe('scheduler', () => {
  let pg: TestDatabase;
  let a: Database;
  let b: Database;
  let dataDir: string;

  beforeAll(async () => {
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-sched-'));
    a = await openDatabase({ url: pg.url, dataDir });
    b = await openDatabase({ url: pg.url, dataDir });
    await a.db.insert(sources).values({ name: 'ops', type: 'local', location: '/defs' });
    const [rev] = await a.db.insert(revisions).values({ source: 'ops', commit: 'sha256:x', configHash: 'h', status: 'applied' }).returning({ id: revisions.id });
    const trigger = (name: string, spec: object) => ({ source: 'ops', kind: 'Trigger', name, file: `triggers/${name}.yaml`, line: 1, column: 1, spec, contentHash: name, addedRevisionId: rev?.id as number });
    await a.db.insert(definitions).values([
      trigger('every-second', { schedule: '* * * * * *', event: { source: 'schedule' }, pipelines: [{ name: 'p' }] }),
      trigger('on-push', { event: { source: 'github', type: 'push' }, pipelines: [{ name: 'p' }] }),
    ]);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('produces one event per tick with two processes', async () => {
    const errors: unknown[] = [];
    const make = (database: Database) => {
      const intake = createIntake({ db: database.db, enqueue: async () => undefined, reportError: (e) => errors.push(e) });
      return startScheduler({ db: database.db, accept: (e) => intake.accept(e), intervalMs: 50, reportError: (e) => errors.push(e) });
    };
    const started = Date.now();
    const one = make(a);
    const two = make(b);
    await new Promise((r) => setTimeout(r, 3300));
    await Promise.all([one.stop(), two.stop()]);
    const elapsed = Date.now() - started;
    expect(errors).toEqual([]);
    const rows = await a.db.select({ deliveryId: events.deliveryId, subject: events.subject, body: events.body }).from(events).orderBy(events.deliveryId);
    // One per second that passed (3 or 4 of them), never two for the same tick.
    expect(rows.length).toBeGreaterThanOrEqual(Math.floor(elapsed / 1000) - 1);
    expect(rows.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000));
    expect(new Set(rows.map((r) => r.deliveryId)).size).toBe(rows.length);
    expect(rows.every((r) => r.subject === 'ops/every-second')).toBe(true);
    const [{ n } = { n: -1 }] = await a.db.select({ n: sql<number>`count(distinct ${events.body}->>'scheduledTime')::int` }).from(events);
    expect(n).toBe(rows.length);
  });
});
