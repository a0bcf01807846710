// Runs the driver contract against BullMQ on the machine's Redis (a random key prefix for this
// file, every key removed afterwards) and against the embedded driver on a throwaway PostgreSQL
// database and on an in-memory PGlite; then what only the embedded driver does (taking over the
// jobs of a crashed worker), the sweeper, and the catalog's types.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { events, openDatabase, queueJobs, type Database } from '../../schemas/database/index.js';
import { createTestDatabase } from '../../test/helpers/postgres.js';
import { contractCatalog, describeDriverContract, sleep, waitFor, type ContractCatalog, type ContractTarget } from './driver-contract.js';
import {
  bullmqJobId,
  createBullmqDriver,
  createEmbeddedDriver,
  defineCatalog,
  eventopsCatalog,
  startSweeper,
  sweep,
  type EventopsCatalog,
  type QueueDriver,
} from './index.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every key this file makes starts with this. */
const FILE_PREFIX = `eventops-test-${randomBytes(4).toString('hex')}`;

/** Deletes every key under `prefix` with SCAN + DEL (never FLUSHALL: other tests share this Redis). */
async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Handlers of the queues a test does not work on (`queues: ['events']` keeps them idle). */
const notHere = async () => {
  throw new Error('this test works only on the events queue');
};

const failOnError = (error: unknown, where: string) => {
  throw new Error(`queue driver error in ${where}`, { cause: error });
};

describeDriverContract('bullmq (Redis)', async () => {
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  // Connected now, so its socket is not counted among a test's open handles.
  await admin.ping();
  let n = 0;
  let prefix = '';
  return {
    countsHandles: true,
    async reset() {
      if (prefix) await deleteKeys(admin, `${prefix}:`);
      prefix = `${FILE_PREFIX}-contract-${n++}`;
    },
    makeDriver: (options) => createBullmqDriver({ connection: REDIS_URL, prefix, catalog: contractCatalog, onError: failOnError, ...options }),
    childStorage: () => ({ driver: 'bullmq', redisUrl: REDIS_URL, prefix }),
    async teardown() {
      await deleteKeys(admin, FILE_PREFIX);
      await admin.quit();
    },
  };
}, true);

/** The embedded driver on `database`, its table emptied before each test. */
function embeddedTarget(database: Database, cleanup: () => Promise<void>, countsHandles: boolean, url?: string): ContractTarget {
  return {
    countsHandles,
    ...(url ? { childStorage: () => ({ driver: 'embedded' as const, databaseUrl: url }) } : {}),
    async reset() {
      await database.db.delete(queueJobs);
    },
    makeDriver: (options) => createEmbeddedDriver({ db: database.db, catalog: contractCatalog, pollMs: 20, onError: failOnError, ...options }),
    teardown: cleanup,
  };
}

async function openPostgres(): Promise<{ database: Database; url: string; cleanup: () => Promise<void> }> {
  const testDb = await createTestDatabase();
  const database = await openDatabase({ url: testDb.url, dataDir: tmpdir() });
  return {
    database,
    url: testDb.url,
    cleanup: async () => {
      await database.close();
      await testDb.drop();
    },
  };
}

async function openPglite(): Promise<{ database: Database; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'eventops-queue-'));
  const database = await openDatabase({ dataDir: dir, inMemory: true });
  return {
    database,
    cleanup: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The pool keeps idle PostgreSQL connections and their timers: handles cannot be counted there.
describeDriverContract('embedded (PostgreSQL)', async () => {
  const { database, cleanup, url } = await openPostgres();
  return embeddedTarget(database, cleanup, false, url);
}, true);

describeDriverContract('embedded (PGlite)', async () => {
  const { database, cleanup } = await openPglite();
  return embeddedTarget(database, cleanup, true);
});

for (const [name, openStore] of [
  ['PostgreSQL', openPostgres],
  ['PGlite', openPglite],
] as const) {
  describe(`embedded driver (${name}): claims`, () => {
    let store: Awaited<ReturnType<typeof openStore>>;
    beforeAll(async () => {
      store = await openStore();
    });
    afterAll(() => store?.cleanup());
    beforeEach(async () => {
      await store.database.db.delete(queueJobs);
    });

    /** Marks the job as claimed by a worker that died: active, its lock already expired. */
    async function crash(id: string, attempts: number): Promise<void> {
      await store.database.db
        .update(queueJobs)
        .set({ status: 'active', attempts, lockedUntil: sql`now() - interval '1 second'` })
        .where(eq(queueJobs.id, id));
    }

    it('takes again a job whose worker crashed (its lock expired), counting the lost run', async () => {
      const driver = createEmbeddedDriver({ db: store.database.db, catalog: contractCatalog, pollMs: 20, onError: failOnError });
      try {
        await driver.enqueue('alpha', 'flaky', { key: 'crashed', failTimes: 0 });
        await crash('flaky:crashed', 1);
        const attempts: number[] = [];
        await driver.work(
          {
            echo: async () => undefined,
            flaky: async (_p, ctx) => void attempts.push(ctx.attempt),
            slow: async () => undefined,
          },
          { concurrency: 1 },
        );
        await waitFor('the crashed job to run again', async () => (await driver.getJob('alpha', 'flaky:crashed'))?.status === 'completed');
        expect(attempts).toEqual([2]);
      } finally {
        await driver.close();
      }
    });

    it('fails a job whose worker crashed on its last attempt, saying so', async () => {
      const driver = createEmbeddedDriver({ db: store.database.db, catalog: contractCatalog, pollMs: 20, onError: failOnError });
      try {
        await driver.enqueue('alpha', 'flaky', { key: 'poison', failTimes: 0 });
        await crash('flaky:poison', 3);
        let ran = false;
        await driver.work({ echo: async () => undefined, flaky: async () => void (ran = true), slow: async () => undefined }, { concurrency: 1 });
        await waitFor('the job to fail', async () => (await driver.getJob('alpha', 'flaky:poison'))?.status === 'failed');
        expect(await driver.getJob('alpha', 'flaky:poison')).toMatchObject({ attempts: 3, error: expect.stringMatching(/attempt 3 stopped renewing its lock/) });
        expect(ran).toBe(false);
      } finally {
        await driver.close();
      }
    });

    it('keeps the claim on a job that runs longer than the lock (the heartbeat renews it): it runs once', async () => {
      const opts = { db: store.database.db, catalog: contractCatalog, pollMs: 20, lockMs: 300, onError: failOnError };
      const a = createEmbeddedDriver(opts);
      const b = createEmbeddedDriver(opts);
      try {
        const runs: string[] = [];
        let aborted = false;
        const slow = (who: string) => async (_p: { ms: number }, ctx: { signal: AbortSignal }) => {
          runs.push(who);
          await sleep(_p.ms);
          aborted ||= ctx.signal.aborted;
        };
        await a.enqueue('beta', 'slow', { key: 'long', ms: 1_200 });
        await a.work({ echo: async () => undefined, flaky: async () => undefined, slow: slow('a') }, { concurrency: 1 });
        await waitFor('a to start', () => runs.length === 1);
        await b.work({ echo: async () => undefined, flaky: async () => undefined, slow: slow('b') }, { concurrency: 1 });
        await waitFor('the job to complete', async () => (await a.getJob('beta', 'slow:long'))?.status === 'completed', 5_000);
        expect(runs).toEqual(['a']);
        expect(aborted).toBe(false);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
}

describe('sweeper', () => {
  let store: Awaited<ReturnType<typeof openPostgres>>;
  let admin: Redis;
  beforeAll(async () => {
    store = await openPostgres();
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await store?.cleanup();
    if (admin) {
      await deleteKeys(admin, `${FILE_PREFIX}-sweeper`);
      await admin.quit();
    }
  });
  beforeEach(async () => {
    await store.database.db.delete(events);
    await store.database.db.delete(queueJobs);
  });

  /** Events accepted a minute ago (or `agoMs`), all at the same instant, and never matched. */
  async function received(ids: readonly string[], agoMs = 60_000): Promise<void> {
    const receivedAt = new Date(Date.now() - agoMs);
    await store.database.db.insert(events).values(ids.map((id) => ({ id, source: 'api', type: 'test.event', receivedAt })));
  }

  it('re-enqueues received events with BullMQ, and again after the prefix is flushed from Redis: nothing accepted is lost', async () => {
    const prefix = `${FILE_PREFIX}-sweeper`;
    const { db } = store.database;
    await received(['evt-1', 'evt-2', 'evt-3']);
    await received(['evt-fresh'], 0);
    await db.update(events).set({ status: 'matched' }).where(eq(events.id, 'evt-3'));

    const driver = createBullmqDriver({ connection: REDIS_URL, prefix, onError: failOnError });
    try {
      expect(await sweep({ db, driver, olderThanMs: 30_000 })).toBe(2);
      expect(await driver.getJob('events', 'match-event:evt-1')).toMatchObject({ status: 'waiting', payload: { eventId: 'evt-1' } });
      expect(await driver.getJob('events', 'match-event:evt-fresh')).toBeUndefined();
      // Idempotent: the jobs are there, nothing is added twice.
      expect(await sweep({ db, driver, olderThanMs: 30_000 })).toBe(0);
      // BullMQ's own key for the job: the catalog id with ':' encoded.
      expect(await admin.exists(`${prefix}:events:${bullmqJobId('match-event:evt-1')}`)).toBe(1);

      // Process them without marking the events (as if the matcher's write were lost too).
      const seen: string[] = [];
      await driver.work(
        { 'match-event': async (p) => void seen.push(p.eventId), 'start-run': notHere, 'run-timeout': notHere, 'run-task': notHere, 'report-run': notHere, 'answer-comment': notHere, 'check-definitions': notHere, 'publish-run-events': notHere },
        { concurrency: 2, queues: ['events'] },
      );
      await waitFor('both events matched', async () => (await driver.stats('events')).completed === 2);
      // Completed and retained: the sweeper cannot add them again.
      expect(await sweep({ db, driver, olderThanMs: 30_000 })).toBe(0);

      // Redis loses everything of this prefix.
      expect(await deleteKeys(admin, `${prefix}:`)).toBeGreaterThan(0);
      expect(await sweep({ db, driver, olderThanMs: 30_000 })).toBe(2);
      await waitFor('both events matched again', () => seen.length === 4);
      expect(seen.sort()).toEqual(['evt-1', 'evt-1', 'evt-2', 'evt-2']);
    } finally {
      await driver.close();
    }
  });

  it('re-enqueues received events with the embedded driver, in pages (events received at the same instant included)', async () => {
    const { db } = store.database;
    const ids = Array.from({ length: 25 }, (_, i) => `evt-${String(i).padStart(2, '0')}`);
    await received(ids.slice(0, 12), 60_000);
    await received(ids.slice(12), 50_000);
    const driver = createEmbeddedDriver({ db, onError: failOnError });
    try {
      await driver.enqueue('events', 'match-event', { eventId: 'evt-00' });
      expect(await sweep({ db, driver, olderThanMs: 1_000, batchSize: 10 })).toBe(24);
      expect(await driver.stats('events')).toMatchObject({ waiting: 25 });
      expect(await sweep({ db, driver, olderThanMs: 1_000, batchSize: 10 })).toBe(0);
    } finally {
      await driver.close();
    }
  });

  it('startSweeper sweeps at once and on its interval until stopped', async () => {
    const { db } = store.database;
    const driver = createEmbeddedDriver({ db, onError: failOnError });
    const swept: number[] = [];
    const errors: unknown[] = [];
    const stop = startSweeper({ db, driver, olderThanMs: 1_000, intervalMs: 50, onSwept: (count) => swept.push(count), onError: (e) => errors.push(e) });
    try {
      await received(['evt-a']);
      await waitFor('the first event swept', () => swept.length === 1);
      await received(['evt-b']);
      await waitFor('the second event swept', () => swept.length === 2);
      await stop();
      await stop();
      await received(['evt-c']);
      await sleep(200);
      expect(swept).toEqual([1, 1]);
      expect(errors).toEqual([]);
    } finally {
      await stop();
      await driver.close();
    }
  });
});

describe('catalog', () => {
  it('declares the eventops queues with deterministic ids', () => {
    expect(Object.keys(eventopsCatalog)).toEqual(['events', 'runs', 'tasks', 'reports']);
    expect(eventopsCatalog.reports['report-run'].jobId({ runId: 'r1', version: 'v7' })).toBe('report-run:r1:v7');
    expect(eventopsCatalog.reports['answer-comment'].jobId({ eventId: 'e1' })).toBe('answer-comment:e1');
    expect(eventopsCatalog.reports['publish-run-events'].jobId({ runId: 'r1', seq: 3 })).toBe('publish-run-events:r1:3');
    expect(eventopsCatalog.events['match-event'].jobId({ eventId: 'e1' })).toBe('match-event:e1');
    expect(eventopsCatalog.runs['start-run'].jobId({ runId: 'r1' })).toBe('start-run:r1');
    expect(eventopsCatalog.tasks['run-task'].jobId({ runId: 'r1', task: 'build', attempt: 2 })).toBe('run-task:r1:build:2');
  });

  it('refuses a catalog that declares one job name on two queues', () => {
    const job = contractCatalog.alpha.echo;
    expect(() => defineCatalog({ one: { echo: job }, two: { echo: job } })).toThrow(/job 'echo' is declared on queue 'one' and on queue 'two'/);
  });

  it('maps catalog ids to BullMQ ids one-to-one, without ":"', () => {
    const ids = ['a:b', 'a_b', 'a%3Ab', 'a%b', 'a%253A', 'match-event:x:y'];
    const mapped = ids.map(bullmqJobId);
    expect(new Set(mapped).size).toBe(ids.length);
    for (const id of mapped) expect(id).not.toContain(':');
  });

  it('types: every job needs a handler, and payloads match their job (checked by tsc)', () => {
    // Never called: these lines are for the type checker, which fails on an unused @ts-expect-error.
    const typeChecks = (driver: QueueDriver<EventopsCatalog>, contract: QueueDriver<ContractCatalog>) => {
      // @ts-expect-error — no handler for `match-event`
      void driver.work({}, { concurrency: 1 });
      // @ts-expect-error — `match-event` takes an eventId
      void driver.enqueue('events', 'match-event', { runId: 'r1' });
      // @ts-expect-error — `report` is no job of the `events` queue
      void driver.enqueue('events', 'report', { eventId: 'e1' });
      // @ts-expect-error — a handler's payload is the job's payload
      void contract.work({ echo: async (p: { eventId: string }) => void p, flaky: async () => undefined, slow: async () => undefined }, { concurrency: 1 });
    };
    expect(typeChecks).toBeTypeOf('function');
  });
});
