// Benchmark of the run engine, on PostgreSQL with BullMQ on Redis:
// 1. Event accepted → first task started (p50, p99) for 100 events sent at a steady 10 per second
//    (both times are the database's: `events.received_at`, `task_runs.started_at`), and trivial
//    one-task runs per second for a burst of events from 10 senders, until every run ended; a
//    server built as `eventops serve` builds it (all roles, the local runner).
//    Targets: p50 < 50 ms, p99 < 250 ms, ≥ 50 runs/s.
// 2. Engine overhead of a 1,000-task DAG (10 layers of 100 tasks, each needing one task of the
//    layer before): the same engine and workers with a runner that does nothing, so the wall time
//    is the engine's own (transitions, claims, leases, queue). Target: < 2 s.
// Raw baseline, measured in the same run (test/bench/baselines.ts): one-row PostgreSQL INSERTs
// with 10 in flight; printed with the ratios runs/s ÷ inserts/s and DAG tasks/s ÷ inserts/s.
//   npx tsx test/bench/runs.ts [--runs N] [--only latency|dag] [--profile FILE.cpuprofile]
// `--profile` writes a V8 CPU profile of the measured part(s) of this process (server included).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { startServer } from '../../cli/start-server.js';
import { loadConfig } from '../../config/index.js';
import { createBullmqDriver, createRunEngine, createTaskWorker, definitionsAtRevision, type Job } from '../../queue/index.js';
import type { Runner } from '../../runners/index.js';
import { openDatabase, runs } from '../../schemas/database/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { postgresInsertRate } from './baselines.js';
import { printTable, profiled, resultsHeader, spread, writeResults, type Spread } from './bench-results.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 300;
const CONCURRENCY = 10;
const LATENCY_EVENTS = 100;
const DAG_RUNS = 3;
const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
const profileArg = process.argv.indexOf('--profile');
const PROFILE = profileArg > 0 ? process.argv[profileArg + 1] : undefined;


function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function writeDefinitions(dir: string): Promise<void> {
  await mkdir(join(dir, 'pipelines'), { recursive: true });
  await writeFile(join(dir, 'actuator.yaml'), 'apiVersion: eventops.dev/v1\nkind: Actuator\nmetadata: { name: shell }\nspec: { tags: [local], concurrency: 64, local: {} }\n');
  await writeFile(join(dir, 'pipelines/one.yaml'), 'apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: one }\nspec:\n  tasks: [ { name: only, commands: [ "true" ] } ]\n');
  await writeFile(join(dir, 'trigger.yaml'), 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: bench }\nspec:\n  event: { source: api, type: bench.one }\n  pipelines: [ { name: one } ]\n');
  const tasks: string[] = [];
  for (let layer = 0; layer < 10; layer++) {
    for (let i = 0; i < 100; i++) tasks.push(`    - { name: t${layer}-${i}, commands: [ "true" ]${layer > 0 ? `, needs: [ t${layer - 1}-${i} ]` : ''} }`);
  }
  await writeFile(join(dir, 'pipelines/wide.yaml'), `apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: wide }\nspec:\n  tasks:\n${tasks.join('\n')}\n`);
}

async function latencyAndThroughput(dbUrl: string, dataDir: string, defs: string, prefix: string) {
  const env = { DATABASE_URL: dbUrl, REDIS_URL, PORT: '0', HOST: '127.0.0.1', EVENTOPS_DATA_DIR: dataDir, EVENTOPS__SOURCES: JSON.stringify([{ name: 'bench', path: defs }]), EVENTOPS__REDIS__PREFIX: prefix, EVENTOPS__RUNS__CONCURRENCY: '32' };
  const server = await startServer(loadConfig({ cwd: dataDir, env }), { env, logger: pino({ level: 'silent' }) });
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await server.reconciler.requestReconcile('bench');
    const token = (await import('node:fs')).readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const send = async () => {
      const res = await fetch(`${server.url}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'bench.one', body: {} }) });
      if (res.status !== 202) throw new Error(`event refused: ${res.status} ${await res.text()}`);
    };
    // Warm-up: a few runs end to end.
    for (let i = 0; i < 10; i++) await send();
    await waitUntilDone(client, 10);
    await client.query('delete from log_chunks; delete from task_runs; delete from runs; delete from events');
    // Latency: events at a steady 10 per second (below the throughput), each run's first task
    // start measured from its event's commit.
    for (let i = 0; i < LATENCY_EVENTS; i++) {
      await send();
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitUntilDone(client, LATENCY_EVENTS);
    const { rows } = await client.query<{ ms: number }>(
      `select extract(epoch from (t.started_at - e.received_at)) * 1000 as ms from task_runs t join runs r on r.id = t.run_id join events e on e.id = r.event_id order by 1`,
    );
    const latencies = rows.map((r) => Number(r.ms));
    await client.query('delete from log_chunks; delete from task_runs; delete from runs; delete from events');
    // Throughput: RUNS events from CONCURRENCY senders as fast as they are accepted, until every run ended.
    const start = performance.now();
    let next = 0;
    await profiled(PROFILE, async () => {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next++ < RUNS) await send();
        }),
      );
      await waitUntilDone(client, RUNS);
    });
    const seconds = (performance.now() - start) / 1000;
    const { rows: statuses } = await client.query<{ status: string; n: number }>(`select status, count(*)::int as n from runs group by status`);
    return { latencies, runsPerSecond: RUNS / seconds, statuses: Object.fromEntries(statuses.map((s) => [s.status, s.n])) };
  } finally {
    await client.end();
    await server.close();
  }
}

async function waitUntilDone(client: pg.Client, count: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from runs where status not in ('pending', 'running')`);
    if ((rows[0]?.n ?? 0) >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${rows[0]?.n} of ${count} runs ended in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The 1,000-task DAG with a runner that does nothing: the engine's own time. */
async function dagOverhead(dbUrl: string, dataDir: string, defs: string, prefix: string): Promise<{ seconds: Spread; status: string }> {
  const env = { DATABASE_URL: dbUrl, PORT: '0', HOST: '127.0.0.1', EVENTOPS_DATA_DIR: dataDir, EVENTOPS__SOURCES: JSON.stringify([{ name: 'bench', path: defs }]) };
  // The reconciler of a server (no queue) stores the definitions; then the engine runs alone.
  const server = await startServer(loadConfig({ cwd: dataDir, env }), { env, logger: pino({ level: 'silent' }), roles: ['reconciler'] });
  await server.reconciler.requestReconcile('bench');
  await server.close();
  const database = await openDatabase({ url: dbUrl, dataDir });
  const logger = pino({ level: 'silent' });
  const driver = createBullmqDriver({ connection: REDIS_URL, prefix: `${prefix}-dag`, onError: () => undefined });
  const enqueue = async (jobs: readonly Job[]) => void (await driver.enqueueMany(jobs));
  const definitions = definitionsAtRevision(database.db);
  const engine = createRunEngine({ db: database.db, definitions, enqueue, logger });
  const nothing: Runner = { type: 'local', run: async () => ({ status: 'succeeded', exitCode: 0, outputs: {} }), close: async () => undefined };
  const runTask = createTaskWorker({ db: database.db, engine, definitions, runners: { use: (_choice, work) => work(nothing), close: async () => undefined }, secret: () => '', workerId: 'bench', leaseMs: 30_000, logger });
  await driver.work({ 'match-event': async () => undefined, 'start-run': async ({ runId }) => engine.startRun(runId), 'run-timeout': async () => undefined, 'run-task': runTask, 'report-run': async () => undefined, 'answer-comment': async () => undefined, 'check-definitions': async () => undefined, 'publish-run-events': async () => undefined }, { concurrency: 16 });
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: number }>(`select active_revision_id as id from sources where name = 'bench'`);
    await client.query(`insert into events (id, source, type) values ('dag-event', 'api', 'bench.dag')`);
    // Three runs one after the other (the first warms caches and prepared statements); median and spread.
    const samples: number[] = [];
    let status = 'succeeded';
    await profiled(PROFILE, async () => {
      for (let n = 0; n < DAG_RUNS; n++) {
        const id = `dag-run-${n}`;
        const start = performance.now();
        await database.db.insert(runs).values({ id, source: 'bench', trigger: 'bench', pipeline: 'wide', pipelineIndex: n, revisionId: rows[0]?.id as number, eventId: 'dag-event' });
        await engine.startRun(id);
        for (;;) {
          const { rows: r } = await client.query<{ status: string }>(`select status from runs where id = $1`, [id]);
          if (r[0] && !['pending', 'running'].includes(r[0].status)) {
            samples.push((performance.now() - start) / 1000);
            if (r[0].status !== 'succeeded') status = r[0].status;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    });
    return { seconds: spread(samples), status };
  } finally {
    await client.end();
    await driver.close();
    await database.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'eventops-runs-bench-'));
  const prefix = `eventops-bench-${randomBytes(4).toString('hex')}`;
  const defs = join(dir, 'defs');
  await writeDefinitions(defs);
  const first = await createTestDatabase('eventops_bench');
  const second = await createTestDatabase('eventops_bench');
  const redis = new Redis(REDIS_URL);
  try {
    const a = ONLY === 'dag' ? undefined : await latencyAndThroughput(first.url, join(dir, 'a'), defs, prefix);
    const b = ONLY === 'latency' ? undefined : await dagOverhead(second.url, join(dir, 'b'), defs, prefix);
    const insertsPerSecond = await postgresInsertRate({ url: second.url, count: 5_000, inFlight: CONCURRENCY });
    const p50 = a ? percentile(a.latencies, 50) : undefined;
    const p99 = a ? percentile(a.latencies, 99) : undefined;
    const rows: string[][] = [];
    if (a && p50 !== undefined && p99 !== undefined) {
      rows.push(['event accepted → first task started, p50 (10 events/s)', `${p50.toFixed(1)} ms`, '< 50 ms', p50 < 50 ? 'PASS' : 'FAIL']);
      rows.push(['event accepted → first task started, p99 (10 events/s)', `${p99.toFixed(1)} ms`, '< 250 ms', p99 < 250 ? 'PASS' : 'FAIL']);
      rows.push([`one-task runs per second (${RUNS} runs, ${CONCURRENCY} senders)`, a.runsPerSecond.toFixed(1), '≥ 50', a.runsPerSecond >= 50 ? 'PASS' : 'FAIL']);
    }
    if (b) rows.push([`1,000-task DAG, engine only (no-op runner), median of ${DAG_RUNS}`, `${b.seconds.median.toFixed(2)} s (${b.seconds.min.toFixed(2)}–${b.seconds.max.toFixed(2)}, ${b.status})`, '< 2 s', b.seconds.median < 2 && b.status === 'succeeded' ? 'PASS' : 'FAIL']);
    printTable(['measure (PostgreSQL, BullMQ)', 'value', 'target', ''], rows);
    if (a) console.log(`\nrun outcomes: ${JSON.stringify(a.statuses)}`);
    const ratios = {
      ...(a ? { runsPerSecondToInserts: (a.runsPerSecond / insertsPerSecond).toPrecision(3) } : {}),
      ...(b ? { dagTasksPerSecondToInserts: (1000 / b.seconds.median / insertsPerSecond).toPrecision(3) } : {}),
    };
    console.log(`raw PostgreSQL one-row INSERT, ${CONCURRENCY} in flight: ${insertsPerSecond.toFixed(0)}/s; ratio ${a ? `runs/s ÷ inserts/s ${ratios.runsPerSecondToInserts}` : ''}${a && b ? ', ' : ''}${b ? `DAG tasks/s ÷ inserts/s ${ratios.dagTasksPerSecondToInserts}` : ''}`);
    const file = writeResults({ ...resultsHeader('runs', ['bullmq', 'pg']), runs: RUNS, concurrency: CONCURRENCY, ...(a ? { firstTaskStartedMs: { p50, p99, count: a.latencies.length }, runsPerSecond: a.runsPerSecond } : {}), ...(b ? { dag1000: b } : {}), baseline: { postgresInsertsPerSecond: insertsPerSecond, inFlight: CONCURRENCY, ...ratios } });
    console.log(`results: ${file}`);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    await redis.quit();
    await first.drop();
    await second.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
