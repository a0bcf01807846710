// Benchmark of event intake: signed GitHub push webhooks posted at concurrency 50 on loopback,
// for a bounded time, by a load client in its own process (test/bench/load-client.ts), to a server built as `eventops serve` builds it (PostgreSQL, Redis/BullMQ,
// the starter definitions), beside raw BullMQ `Queue.add` at the same concurrency on the same
// Redis — the ratio is the figure. Warm-up excluded; prints accepted/s and p50/p99 latency and
// writes JSON to test/bench/results/. Targets: ≥ 1,500 accepted/s, p99 < 50 ms.
//   npx tsx test/bench/intake.ts [--seconds N] [--profile FILE.cpuprofile]
// `--profile` writes a V8 CPU profile of the measured webhook phase only (open it in Chrome's
// DevTools or speedscope).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { startServer } from '../../cli/start-server.js';
import { loadConfig } from '../../config/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { printTable, profiled, resultsHeader, ROOT, writeResults } from './bench-results.js';

const CONCURRENCY = 50;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 10;
const profileArg = process.argv.indexOf('--profile');
const PROFILE = profileArg > 0 ? process.argv[profileArg + 1] : undefined;


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

/** Runs test/bench/load-client.ts in its own process (as a real client would be) and reads its result. */
async function loadFromChild(spec: Record<string, unknown>): Promise<{ latencies: number[]; perSecond: number; failures: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/bench/load-client.ts'), JSON.stringify(spec)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the load client exited with ${code}`);
  return JSON.parse(out) as { latencies: number[]; perSecond: number; failures: number };
}

/** Waits (at most 60 s) until the workers have matched every accepted event; counts what is left. */
async function waitForMatching(url: string): Promise<{ matched: number; pending: number; seconds: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const start = performance.now();
  try {
    for (;;) {
      const { rows } = await client.query<{ pending: number; matched: number }>(`select count(*) filter (where status = 'received')::int as pending, count(*) filter (where status <> 'received')::int as matched from events`);
      const { pending, matched } = rows[0] as { pending: number; matched: number };
      const seconds = (performance.now() - start) / 1000;
      if (pending === 0 || seconds > 60) return { matched, pending, seconds };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await client.end();
  }
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
    const webhooks = await profiled(PROFILE, () =>
      loadFromChild({
        url: `${server.url}/webhooks/github`,
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
        body: payload,
        concurrency: CONCURRENCY,
        warmupMs: 2000,
        ms: SECONDS * 1000,
        expectStatus: 202,
      }),
    );
    const failures = webhooks.failures;
    const drain = await waitForMatching(pg.url);

    const rawConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('raw', { connection: rawConnection, prefix });
    let n = 0;
    await load(1000, async () => void (await queue.add('raw', { eventId: String(n++) }, { jobId: `w${n}` })));
    const raw = await load(SECONDS * 1000, async () => void (await queue.add('raw', { eventId: String(n++) }, { jobId: `r${n}` })));
    await queue.close();
    await rawConnection.quit(); // a connection handed to BullMQ is not closed by it

    const rows = [
      ['signed GitHub webhooks → 202', webhooks.perSecond.toFixed(0), percentile(webhooks.latencies, 50).toFixed(1), percentile(webhooks.latencies, 99).toFixed(1), String(failures)],
      ['raw BullMQ Queue.add', raw.perSecond.toFixed(0), percentile(raw.latencies, 50).toFixed(1), percentile(raw.latencies, 99).toFixed(1), '0'],
    ];
    printTable(['measure (concurrency 50)', 'per second', 'p50 ms', 'p99 ms', 'non-202'], rows);
    const ratio = webhooks.perSecond / raw.perSecond;
    console.log(`\nratio accepted/s ÷ raw add/s: ${ratio.toPrecision(3)}; targets: ≥ 1,500 accepted/s (${webhooks.perSecond >= 1500 ? 'PASS' : 'FAIL'}), p99 < 50 ms (${percentile(webhooks.latencies, 99) < 50 ? 'PASS' : 'FAIL'})`);
    const file = writeResults({
      ...resultsHeader('intake', ['bullmq', 'hono', 'pg']),
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      webhooks: { perSecond: webhooks.perSecond, p50: percentile(webhooks.latencies, 50), p99: percentile(webhooks.latencies, 99), count: webhooks.latencies.length, failures },
      rawAdd: { perSecond: raw.perSecond, p50: percentile(raw.latencies, 50), p99: percentile(raw.latencies, 99) },
      // A string: the results file rounds numbers to one decimal.
      ratio: ratio.toPrecision(3),
      drain,
    });
    console.log(`matching: ${drain.matched} events matched, ${drain.pending} still unmatched ${drain.seconds.toFixed(1)} s after the load ended`);
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
