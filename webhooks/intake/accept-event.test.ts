// Group commit in the intake, against a real PostgreSQL database and on PGlite: events accepted
// together share one INSERT and one enqueue, a redelivery inside the same batch gets the first
// event's id, and a row the database refuses fails only its own caller.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import type { ApiError } from '../api/index.js';
import { createIntake, type IncomingEvent, type Intake } from './accept-event.js';
import { microBatch } from './micro-batch.js';

const event = (deliveryId: string, body: unknown = { n: deliveryId }): IncomingEvent => ({ source: 'api', type: 'test', deliveryId, headers: {}, labels: {}, body });

describe.each(['postgres', 'pglite'] as const)('createIntake on %s', (driver) => {
  let pg: TestDatabase | undefined;
  let database: Database;
  let dataDir: string;
  let intake: Intake;
  const enqueueCalls: string[][] = [];
  const errors: unknown[] = [];
  let failEnqueue = false;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-accept-'));
    if (driver === 'postgres') pg = await createTestDatabase();
    database = await openDatabase({ ...(pg ? { url: pg.url } : {}), dataDir });
    intake = createIntake({
      db: database.db,
      enqueue: async (ids) => {
        if (failEnqueue) throw new Error('queue down');
        enqueueCalls.push([...ids]);
      },
      reportError: (error) => errors.push(error),
    });
  }, 60_000);
  afterAll(async () => {
    await database.close();
    await pg?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const count = async () => {
    const result = (await database.db.execute(sql`select count(*)::int as n from events`)) as unknown as { rows: { n: number }[] };
    return result.rows[0]?.n;
  };

  it('stores events accepted together in few INSERTs, enqueues each new one once, and answers a redelivery in the same batch with the first id', async () => {
    enqueueCalls.length = 0;
    const before = await count();
    const results = await Promise.all([...Array.from({ length: 30 }, (_, i) => intake.accept(event(`d${i}`))), intake.accept(event('d3'))]);
    expect(await count()).toBe((before ?? 0) + 30);
    expect(results.filter((r) => r.duplicate)).toEqual([{ eventId: results[3]?.eventId, duplicate: true }]);
    expect(new Set(results.map((r) => r.eventId)).size).toBe(30);
    const enqueued = enqueueCalls.flat();
    expect(enqueued.sort()).toEqual(results.filter((r) => !r.duplicate).map((r) => r.eventId).sort());
    expect(enqueueCalls.length).toBeLessThan(30); // batched, not one call per event
    const again = await intake.accept(event('d7'));
    expect(again).toEqual({ eventId: results[7]?.eventId, duplicate: true });
  });

  it('fails only the event the database refuses; the others of its batch are stored', async () => {
    const before = await count();
    // A row without a type breaks the table's NOT NULL (what checkStorable refuses never gets this far).
    const untyped = { ...event('bad'), type: undefined as unknown as string };
    const settled = await Promise.allSettled([intake.accept(event('ok-1')), intake.accept(untyped), intake.accept(event('ok-2'))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await count()).toBe((before ?? 0) + 2);
  });

  it('refuses, before any INSERT, an event PostgreSQL cannot store: a 400 naming the field', async () => {
    const before = await count();
    const refusals = await Promise.allSettled([
      intake.accept({ ...event('nul-type'), type: 'deploy\u0000' }),
      intake.accept({ ...event('nul-subject'), subject: 'a\u0000' }),
      intake.accept({ ...event('nul-label'), labels: { ['k\u0000']: 'v' } }),
      intake.accept(event('surrogate', { items: ['ok', '\ud800'] })),
      intake.accept(event('deep', JSON.parse('['.repeat(5000) + ']'.repeat(5000)))),
      intake.accept(event('fine-beside-them', { emoji: '😀' })),
    ]);
    const messages = refusals.map((r) => (r.status === 'rejected' ? `${(r.reason as ApiError).status} ${(r.reason as Error).message}` : 'stored'));
    expect(messages).toEqual([
      expect.stringMatching(/^400 type contains a NUL character/),
      expect.stringMatching(/^400 subject contains a NUL character/),
      expect.stringMatching(/^400 labels\["k\\u0000"\] \(a key\) contains a NUL character/),
      expect.stringMatching(/^400 body\.items\[1\] contains a lone surrogate/),
      expect.stringMatching(/^400 body is nested deeper than 100 levels/),
      'stored',
    ]);
    expect(await count()).toBe((before ?? 0) + 1);
  });

  it('keeps an event accepted when the queue refuses it, and reports the error', async () => {
    failEnqueue = true;
    try {
      const accepted = await intake.accept(event('queue-down'));
      expect(accepted.duplicate).toBe(false);
      expect(errors.map(String)).toContain('Error: queue down');
    } finally {
      failEnqueue = false;
    }
  });
});

describe('microBatch', () => {
  it('runs calls made together as one batch, bounded in size and in batches at once', async () => {
    const batches: number[][] = [];
    let running = 0;
    let mostRunning = 0;
    const double = microBatch<number, number>(
      async (items) => {
        batches.push([...items]);
        running++;
        mostRunning = Math.max(mostRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return items.map((n) => (n === 13 ? { status: 'rejected', reason: new Error('thirteen') } : { status: 'fulfilled', value: n * 2 }));
      },
      { maxSize: 4, maxInFlight: 2 },
    );
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, n) => double(n)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : 'rejected'))).toEqual(Array.from({ length: 20 }, (_, n) => (n === 13 ? 'rejected' : n * 2)));
    expect(Math.max(...batches.map((b) => b.length))).toBe(4);
    expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(mostRunning).toBe(2);
  });

  it('fails every call of a batch whose run throws, and keeps working afterwards', async () => {
    let fail = true;
    const echo = microBatch<string, string>(async (items) => {
      if (fail) throw new Error('down');
      return items.map((value) => ({ status: 'fulfilled', value }));
    }, { maxSize: 10, maxInFlight: 1 });
    const first = await Promise.allSettled([echo('a'), echo('b')]);
    expect(first.every((s) => s.status === 'rejected')).toBe(true);
    fail = false;
    expect(await echo('c')).toBe('c');
  });
});
