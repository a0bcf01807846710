// Benchmark of event intake: signed GitHub push webhooks posted at concurrency 50 on loopback,
// for a bounded time, to a server built as `eventops serve` builds it (PostgreSQL, Redis/BullMQ,
// the starter definitions), beside raw BullMQ `Queue.add` at the same concurrency on the same
// Redis — the ratio is the figure. Warm-up excluded; prints accepted/s and p50/p99 latency and
// writes JSON to test/bench/results/. Targets: ≥ 1,500 accepted/s, p99 < 50 ms.
//   npx tsx test/bench/intake.ts [--seconds N]
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startServer } from '../../cli/start-server.js';
import { loadConfig } from '../../config/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { printTable, resultsHeader, ROOT, writeResults } from './bench-results.js';

const CONCURRENCY = 50;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 10;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Runs `op` from CONCURRENCY loops for `ms`; returns per-call latencies (ms) and the rate. */
async function load(ms: number, op: () => Promise<void>): Promise<{ latencies: number[]; perSecond: number }> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), perSecond: (latencies.length / (performance.now() - start)) * 1000 };
}

async function main(): Promise<void> {
  const pg = await createTestDatabase('eventops_bench');
  const dataDir = await mkdtemp(join(tmpdir(), 'eventops-intake-bench-'));
  const prefix = `eventops-bench-${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: pg.url,
    REDIS_URL,
    PORT: '0',
    HOST: '127.0.0.1',
    EVENTOPS_DATA_DIR: dataDir,
    EVENTOPS__SOURCES: JSON.stringify([{ name: 'template', path: join(ROOT, 'definitions-template') }]),
    EVENTOPS__GITHUB__WEBHOOK_SECRETS: '[{ secret: GH_HOOK }]',
    EVENTOPS_SECRET_GH_HOOK: 'bench-secret',
  };
  const server = await startServer(loadConfig({ cwd: dataDir, env }), { env, logger: pino({ level: 'silent' }), queuePrefix: prefix });
  const redis = new Redis(REDIS_URL);
  try {
    await server.reconciler.requestReconcile('template');
    const payload = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40), commits: [{ id: 'a'.repeat(40) }], repository: { full_name: 'acme/payments' } });
    const signature = await sign('bench-secret', payload);
    let failures = 0;
    const post = async () => {
      const res = await fetch(`${server.url}/webhooks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature },
        body: payload,
      });
      await res.arrayBuffer();
      if (res.status !== 202) failures++;
    };
    await load(2000, post); // warm-up
    const webhooks = await load(SECONDS * 1000, post);

    const queue = new Queue('raw', { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix });
    let n = 0;
    await load(1000, async () => void (await queue.add('raw', { eventId: String(n++) }, { jobId: `w${n}` })));
    const raw = await load(SECONDS * 1000, async () => void (await queue.add('raw', { eventId: String(n++) }, { jobId: `r${n}` })));
    await queue.close();

    const rows = [
      ['signed GitHub webhooks → 202', webhooks.perSecond.toFixed(0), percentile(webhooks.latencies, 50).toFixed(1), percentile(webhooks.latencies, 99).toFixed(1), String(failures)],
      ['raw BullMQ Queue.add', raw.perSecond.toFixed(0), percentile(raw.latencies, 50).toFixed(1), percentile(raw.latencies, 99).toFixed(1), '0'],
    ];
    printTable(['measure (concurrency 50)', 'per second', 'p50 ms', 'p99 ms', 'non-202'], rows);
    const ratio = webhooks.perSecond / raw.perSecond;
    console.log(`\nratio accepted/s ÷ raw add/s: ${ratio.toFixed(2)}; targets: ≥ 1,500 accepted/s (${webhooks.perSecond >= 1500 ? 'PASS' : 'FAIL'}), p99 < 50 ms (${percentile(webhooks.latencies, 99) < 50 ? 'PASS' : 'FAIL'})`);
    const file = writeResults({
      ...resultsHeader('intake', ['bullmq', 'hono', 'pg']),
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      webhooks: { perSecond: webhooks.perSecond, p50: percentile(webhooks.latencies, 50), p99: percentile(webhooks.latencies, 99), count: webhooks.latencies.length, failures },
      rawAdd: { perSecond: raw.perSecond, p50: percentile(raw.latencies, 50), p99: percentile(raw.latencies, 99) },
      ratio,
    });
    console.log(`results: ${file}`);
  } finally {
    await server.close();
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    await redis.quit();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
