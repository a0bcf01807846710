// Benchmark of the queue drivers: BullMQ on the machine's Redis, and the embedded driver on
// PostgreSQL and on an in-memory PGlite. For each: `enqueue` one at a time, `enqueue` with 50 in
// flight, and processing (jobs added beforehand with `enqueueMany`, untimed; then the time for
// workers at concurrency 50 to run them all with an empty handler). One warm-up round is
// excluded, then 3 measured rounds on fresh storage; prints median and spread in jobs/s and
// writes JSON to test/bench/results/. Raw baselines, measured in the same run the same way
// (test/bench/baselines.ts): BullMQ's own `Queue.add` for the BullMQ driver and a one-row
// PostgreSQL INSERT for the PostgreSQL driver, one at a time and 50 in flight; printed with the
// ratio driver enqueue/s ÷ raw/s (PGlite has no raw baseline here).
// Run: `npx tsx test/bench/queue.ts [--count N] [--drivers bullmq,postgres,pglite]`.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createBullmqDriver, createEmbeddedDriver, type EventopsCatalog, type QueueDriver } from '../../queue/jobs/index.js';
import { openDatabase, queueJobs, type Database } from '../../schemas/database/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { bullmqAddRate, postgresInsertRate } from './baselines.js';
import { printTable, resultsHeader, spread, writeResults, type Spread } from './bench-results.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DRIVERS = ['bullmq', 'postgres', 'pglite'] as const;
type DriverName = (typeof DRIVERS)[number];
const MEASURES = ['enqueue, sequential', 'enqueue, 50 in flight', 'process, concurrency 50'] as const;
type Measure = (typeof MEASURES)[number];
const WARMUPS = 1;
const REPEATS = 3;
const IN_FLIGHT = 50;

function parseOptions(argv: readonly string[]): { count: number; drivers: DriverName[] } {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const count = Number(value('--count') ?? 5_000);
  if (!Number.isInteger(count) || count < 100 || count > 100_000) throw new Error('--count needs a whole number from 100 to 100,000');
  const drivers = (value('--drivers') ?? DRIVERS.join(',')).split(',');
  for (const d of drivers) if (!DRIVERS.includes(d as DriverName)) throw new Error(`--drivers: unknown driver '${d}' (${DRIVERS.join(', ')})`);
  return { count, drivers: drivers as DriverName[] };
}

/** Where one driver keeps its jobs: `fresh()` empties it and returns a driver on it. */
interface Store {
  fresh(): Promise<QueueDriver<EventopsCatalog>>;
  close(): Promise<void>;
}

const onError = (error: unknown, where: string) => {
  throw new Error(`queue driver error in ${where}`, { cause: error });
};

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

async function openStore(name: DriverName): Promise<Store> {
  if (name === 'bullmq') {
    const admin = new Redis(REDIS_URL);
    const base = `eventops-bench-${randomBytes(4).toString('hex')}`;
    let n = 0;
    return {
      async fresh() {
        await deleteKeys(admin, base);
        return createBullmqDriver({ connection: REDIS_URL, prefix: `${base}-${n++}`, onError });
      },
      async close() {
        await deleteKeys(admin, base);
        await admin.quit();
      },
    };
  }
  let database: Database;
  let cleanup: () => Promise<void>;
  if (name === 'postgres') {
    const testDb = await createTestDatabase('eventops_bench');
    database = await openDatabase({ url: testDb.url, dataDir: tmpdir() });
    cleanup = () => testDb.drop();
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'eventops-bench-'));
    database = await openDatabase({ dataDir: dir, inMemory: true });
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  return {
    async fresh() {
      await database.db.delete(queueJobs);
      return createEmbeddedDriver({ db: database.db, onError });
    },
    async close() {
      await database.close();
      await cleanup();
    },
  };
}

/** Runs `fn` on `items` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const ids = (count: number, round: number) => Array.from({ length: count }, (_, i) => `evt-${round}-${i}`);

/** Jobs per second of one round of `measure`. */
async function round(store: Store, measure: Measure, count: number, n: number): Promise<number> {
  const driver = await store.fresh();
  try {
    const eventIds = ids(count, n);
    if (measure !== 'process, concurrency 50') {
      const start = performance.now();
      await pool(eventIds, measure === 'enqueue, sequential' ? 1 : IN_FLIGHT, (eventId) => driver.enqueue('events', 'match-event', { eventId }));
      const ms = performance.now() - start;
      const stats = await driver.stats('events');
      if (stats.waiting !== count) throw new Error(`expected ${count} waiting jobs, found ${stats.waiting}`);
      return (count / ms) * 1000;
    }
    for (let i = 0; i < eventIds.length; i += 1_000) {
      await driver.enqueueMany(eventIds.slice(i, i + 1_000).map((eventId) => ({ queue: 'events', job: 'match-event', payload: { eventId } })));
    }
    let done = 0;
    let finished: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (finished = resolve));
    const start = performance.now();
    await driver.work(
      {
        'match-event': async () => {
          if (++done === count) finished();
        },
        'start-run': notHere,
        'run-timeout': notHere,
        'run-task': notHere,
        'report-run': notHere,
        'answer-comment': notHere,
        'publish-run-events': notHere,
        'check-definitions': notHere,
      },
      { concurrency: IN_FLIGHT, queues: ['events'] },
    );
    await all;
    return (count / (performance.now() - start)) * 1000;
  } finally {
    await driver.close();
  }
}

/** Handlers of the queues this benchmark does not work on (`queues: ['events']` keeps them idle). */
const notHere = async () => {
  throw new Error('this benchmark works only on the events queue');
};

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const results: Record<string, Record<string, { jobsPerSecond: Spread; samples: number[] }>> = {};
  for (const name of options.drivers) {
    const store = await openStore(name);
    try {
      results[name] = {};
      for (const measure of MEASURES) {
        const samples: number[] = [];
        for (let i = 0; i < WARMUPS + REPEATS; i++) {
          // The warm-up round uses a tenth of the jobs and is not counted.
          const rate = await round(store, measure, i < WARMUPS ? Math.max(100, Math.round(options.count / 10)) : options.count, i);
          if (i >= WARMUPS) samples.push(rate);
        }
        results[name][measure] = { jobsPerSecond: spread(samples), samples };
        console.log(`${name}: ${measure}: ${Math.round(spread(samples).median)} jobs/s`);
      }
    } finally {
      await store.close();
    }
  }
  // Raw baselines of the enqueue measures, REPEATS rounds each (each with its own warm-up).
  const RAW: Partial<Record<DriverName, string>> = { bullmq: 'BullMQ Queue.add', postgres: 'PostgreSQL one-row INSERT' };
  const raw: Record<string, Record<string, { perSecond: Spread; samples: number[] }>> = {};
  for (const name of options.drivers) {
    if (!RAW[name]) continue;
    const testDb = name === 'postgres' ? await createTestDatabase('eventops_bench') : undefined;
    try {
      raw[name] = {};
      for (const measure of ['enqueue, sequential', 'enqueue, 50 in flight'] as const) {
        const inFlight = measure === 'enqueue, sequential' ? 1 : IN_FLIGHT;
        const samples: number[] = [];
        for (let i = 0; i < REPEATS; i++) {
          samples.push(testDb ? await postgresInsertRate({ url: testDb.url, count: options.count, inFlight }) : await bullmqAddRate({ redisUrl: REDIS_URL, count: options.count, inFlight }));
        }
        raw[name][measure] = { perSecond: spread(samples), samples };
      }
    } finally {
      await testDb?.drop();
    }
  }
  const fmt = (s: Spread) => `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`;
  printTable(
    ['driver', ...MEASURES.map((m) => `${m} jobs/s`)],
    options.drivers.map((d) => [d, ...MEASURES.map((m) => fmt((results[d] as Record<string, { jobsPerSecond: Spread }>)[m]?.jobsPerSecond as Spread))]),
  );
  const ratioLines: string[][] = [];
  const ratios: Record<string, Record<string, string>> = {};
  for (const [name, measures] of Object.entries(raw)) {
    ratios[name] = {};
    for (const [measure, r] of Object.entries(measures)) {
      const ours = (results[name] as Record<string, { jobsPerSecond: Spread }>)[measure]?.jobsPerSecond.median ?? 0;
      const ratio = (ours / r.perSecond.median).toPrecision(3);
      (ratios[name] as Record<string, string>)[measure] = ratio;
      ratioLines.push([name, measure, String(Math.round(ours)), `${RAW[name as DriverName]}: ${fmt(r.perSecond)}`, ratio]);
    }
  }
  if (ratioLines.length > 0) printTable(['driver', 'measure', 'driver jobs/s (median)', 'raw baseline /s, median (min–max)', 'ratio'], ratioLines);
  const path = writeResults({
    ...resultsHeader('queue', ['bullmq', 'ioredis', 'pg', '@electric-sql/pglite', 'drizzle-orm']),
    method: { count: options.count, warmupRounds: WARMUPS, warmupCount: Math.max(100, Math.round(options.count / 10)), rounds: REPEATS, inFlight: IN_FLIGHT, job: 'events/match-event, empty handler' },
    results,
    baselines: raw,
    ratios,
  });
  console.log(`\nresults: ${path}`);
}

await main();
