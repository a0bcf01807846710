// Scale benchmark: real separate processes on one PostgreSQL and one Redis — `eventops serve
// --role api,reconciler` and `--role worker` processes of the built CLI — running a two-task
// pipeline (`second` needs `first`; each appends `<run> <task> <attempt>` to a file, so real
// executions can be counted) for events posted to `POST /api/v1/events` with 20 in flight.
// Phase A: 1 worker, `--events-one` events (default 1,500). Phase B: 3 workers, `--events`
// events (default 5,000); once about half of its runs are final, one worker (the one running the
// most tasks then) is killed with SIGKILL, and the others take its tasks over when their leases
// (`runs.lease`, 3 s here) run out. Events/s = events ÷ (first send → the last of their runs
// final); phase B's figure includes the kill and the take-over. A warm-up of 20 events is
// excluded. Then PostgreSQL, the processes' log lines and the executions file are checked
// (test/bench/scale/checks.ts): PASS/FAIL per check, exit 1 on any FAIL. Prints runs final per
// second before and after the kill (not comparable halves: matching and starting every run happen
// early), what the sweepers repaired, tasks per worker, where the CPU time went (api, workers,
// PostgreSQL, Redis, this process, the rest), the raw baseline (one-row PostgreSQL INSERTs with
// 20 in flight, test/bench/baselines.ts) and the ratio, and writes JSON to test/bench/results/.
//   npm run bench:scale -- [--events N] [--events-one N] [--workers N] [--timeout-minutes M] [--no-kill] [--profile DIR]
// (builds dist/ first; or `npm run build && npx tsx test/bench/scale/scale.ts …`)
// `--no-kill` runs phase B without the kill, for its figure without a take-over.
// EVENTOPS__* variables (configuration overrides, e.g. EVENTOPS__RUNS__CONCURRENCY=16) are passed
// to every server process. `--profile DIR` runs every process with `--cpu-prof` (profiles written when they exit; the
// killed worker writes none).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestDatabase } from '../../helpers/postgres.js';
import { postgresInsertRate } from '../baselines.js';
import { printTable, resultsHeader, ROOT, writeResults } from '../bench-results.js';
import { checkPhase, type PhaseFacts } from './checks.js';
import { cpuBetween, cpuSnapshot, pidsNamed, type CpuSnapshot } from './cpu-usage.js';
import { startServe, type ServeProcess } from './processes.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const IN_FLIGHT = 20;
const WARMUP_EVENTS = 20;
const LEASE = '3s';

function parseOptions(argv: readonly string[]) {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const whole = (flag: string, fallback: number, min: number, max: number) => {
    const n = Number(value(flag) ?? fallback);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} needs a whole number from ${min} to ${max}`);
    return n;
  };
  return {
    events: whole('--events', 5_000, 10, 50_000),
    eventsOne: whole('--events-one', 1_500, 10, 50_000),
    workers: whole('--workers', 3, 2, 8),
    timeoutMs: whole('--timeout-minutes', 10, 1, 60) * 60_000,
    profile: value('--profile'),
    noKill: argv.includes('--no-kill'),
  };
}

async function writeDefinitions(dir: string, executions: string): Promise<void> {
  await mkdir(join(dir, 'pipelines'), { recursive: true });
  await writeFile(join(dir, 'actuator.yaml'), 'apiVersion: eventops.dev/v1\nkind: Actuator\nmetadata: { name: shell }\nspec: { tags: [local], concurrency: 64, local: {} }\n');
  const task = (name: string, needs: string) =>
    [
      `    - name: ${name}`,
      ...(needs ? [`      needs: [ ${needs} ]`] : []),
      '      retries: { limit: 3, backoff: 1s }',
      `      env: { EXECUTIONS: ${JSON.stringify(executions)} }`,
      `      commands: [ 'echo "$EVENTOPS_RUN_ID ${name} $EVENTOPS_ATTEMPT" >> "$EXECUTIONS"' ]`,
    ].join('\n');
  await writeFile(join(dir, 'pipelines/two.yaml'), `apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: two }\nspec:\n  tasks:\n${task('first', '')}\n${task('second', 'first')}\n`);
  await writeFile(join(dir, 'trigger.yaml'), 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: scale }\nspec:\n  event: { source: api, type: bench.scale }\n  pipelines: [ { name: two } ]\n');
}

/** Posts `count` events from IN_FLIGHT loops on keep-alive connections; returns their ids in send order. */
async function sendEvents(api: ServeProcess, token: string, count: number, phase: string): Promise<string[]> {
  const url = new URL('/api/v1/events', api.url);
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const ids: string[] = [];
  let next = 0;
  const post = (n: number) =>
    new Promise<string>((resolve, reject) => {
      const body = Buffer.from(JSON.stringify({ type: 'bench.scale', body: { phase, n } }));
      const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => (res.statusCode === 202 ? resolve((JSON.parse(text) as { eventId: string }).eventId) : reject(new Error(`event refused: ${res.statusCode} ${text}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < count) {
          const n = next++;
          ids[n] = await post(n);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return ids;
}

async function finalRuns(client: pg.Client, eventIds: readonly string[]): Promise<number> {
  const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from runs where event_id = any($1) and status not in ('pending', 'running')`, [eventIds]);
  return rows[0]?.n ?? 0;
}

/**
 * Waits until every run of `eventIds` is final (polling every 100 ms), calling `onProgress` with
 * the count; throws with what is missing after `timeoutMs`.
 */
async function untilFinal(client: pg.Client, eventIds: () => readonly string[], expected: number, timeoutMs: number, onProgress?: (final: number) => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const final = await finalRuns(client, eventIds());
    await onProgress?.(final);
    if (final >= expected) return;
    if (Date.now() > deadline) {
      const ids = eventIds();
      const { rows: events } = await client.query<{ status: string; n: number }>(`select status, count(*)::int as n from events where id = any($1) group by status`, [ids]);
      const { rows: runs } = await client.query<{ status: string; n: number }>(`select status, count(*)::int as n from runs where event_id = any($1) group by status`, [ids]);
      const { rows: tasks } = await client.query<{ status: string; n: number }>(`select t.status, count(*)::int as n from task_runs t join runs r on r.id = t.run_id where r.event_id = any($1) group by t.status`, [ids]);
      throw new Error(`only ${final} of ${expected} runs final after ${timeoutMs / 1000} s; events ${JSON.stringify(events)}, runs ${JSON.stringify(runs)}, tasks ${JSON.stringify(tasks)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface PhaseResult {
  name: string;
  workers: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Seconds to post every event (202s), within `seconds`. */
  sendSeconds: number;
  kill?: { worker: string; atFinal: number; atSecond: number; runningTasks: number; runsPerSecondBefore: number; runsPerSecondAfter: number };
  /** What the sweepers of every process logged during the phase (see LogCounts.swept). */
  swept: Record<string, number>;
  cpu: ReturnType<typeof cpuBetween>;
  facts: PhaseFacts;
}

async function phase(
  name: string,
  ctx: { client: pg.Client; api: ServeProcess; token: string; workers: ServeProcess[]; executions: string; timeoutMs: number; allProcesses: () => ServeProcess[] },
  count: number,
  killHalfway: boolean,
): Promise<PhaseResult> {
  const { client, api, token, workers } = ctx;
  const groups = () => ({ api: [api.pid], workers: workers.map((w) => w.pid), postgres: pidsNamed(['postgres']), redis: pidsNamed(['redis-server']), 'this benchmark (sender, log reader)': [process.pid] });
  const pidsNow = groups();
  const sweptBefore = sweptTotals(ctx.allProcesses());
  const before = cpuSnapshot(Object.values(pidsNow).flat());
  const start = performance.now();
  let kill: PhaseResult['kill'];
  let preKill: CpuSnapshot | undefined;
  // Sending takes seconds, the runs much longer: the progress is polled once every id is known.
  const eventIds = await sendEvents(api, token, count, name);
  const sendSeconds = (performance.now() - start) / 1000;
  await untilFinal(client, () => eventIds, count, ctx.timeoutMs, async (final) => {
    if (!killHalfway || kill || final < count / 2) return;
    const { rows } = await client.query<{ worker: string; n: number }>(`select worker, count(*)::int as n from task_runs where status = 'running' and worker is not null group by worker order by 2 desc`);
    const busiest = rows.map((r) => workers.find((w) => w.workerId === r.worker)).find((w) => w !== undefined) ?? (workers[1] as ServeProcess);
    preKill = cpuSnapshot(Object.values(pidsNow).flat());
    await busiest.crash();
    const atSecond = (performance.now() - start) / 1000;
    kill = { worker: busiest.name, atFinal: final, atSecond, runningTasks: rows.find((r) => r.worker === busiest.workerId)?.n ?? 0, runsPerSecondBefore: final / atSecond, runsPerSecondAfter: 0 };
    console.log(`  ${name}: killed ${busiest.name} (pid ${busiest.pid}, ${kill.runningTasks} tasks running on it) with SIGKILL at ${final} of ${count} runs final, ${kill.atSecond.toFixed(1)} s in`);
  });
  const seconds = (performance.now() - start) / 1000;
  if (kill) kill.runsPerSecondAfter = (count - kill.atFinal) / (seconds - kill.atSecond);
  const sweptAfter = sweptTotals(ctx.allProcesses());
  const swept = Object.fromEntries(Object.entries(sweptAfter).map(([k, n]) => [k, n - (sweptBefore[k] ?? 0)]));
  const after = cpuSnapshot(Object.values(pidsNow).flat());
  // The killed worker's CPU up to its death.
  if (preKill) {
    for (const [pid, s] of preKill.processes) if (!after.processes.has(pid)) after.processes.set(pid, s);
    for (const [pid, s] of preKill.children) if (!after.children.has(pid)) after.children.set(pid, s);
  }
  const cpu = cpuBetween(before, after, pidsNow, { 'task shells (workers\' reaped children)': pidsNow.workers });
  // The last runs' log lines are written before their commit, but may still be in the pipes.
  await new Promise((r) => setTimeout(r, 500));
  const facts = await checkPhase(
    client,
    eventIds,
    ctx.allProcesses().map((p) => p.counts),
    ctx.executions,
  );
  return { name, workers: workers.length, events: count, seconds, eventsPerSecond: count / seconds, sendSeconds, ...(kill ? { kill } : {}), swept, cpu, facts };
}

function sweptTotals(processes: readonly ServeProcess[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const p of processes) for (const [k, n] of Object.entries(p.counts.swept)) totals[k] = (totals[k] ?? 0) + n;
  return totals;
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

function report(phases: readonly PhaseResult[], processes: readonly ServeProcess[]): boolean {
  const nameOf = (workerId: string) => processes.find((p) => p.workerId === workerId)?.name ?? workerId;
  printTable(
    ['phase', 'workers', 'events', 'seconds', 'events/s', 'all sent after', 'kill'],
    phases.map((p) => [p.name, String(p.workers), String(p.events), p.seconds.toFixed(1), p.eventsPerSecond.toFixed(1), `${p.sendSeconds.toFixed(1)} s`, p.kill ? `${p.kill.worker} at ${p.kill.atFinal} runs final (${p.kill.atSecond.toFixed(1)} s; ${p.kill.runningTasks} tasks running on it); runs final/s ${p.kill.runsPerSecondBefore.toFixed(1)} before, ${p.kill.runsPerSecondAfter.toFixed(1)} after` : '—']),
  );
  let ok = true;
  for (const p of phases) {
    console.log(`\n${p.name}:`);
    for (const c of p.facts.checks) {
      ok &&= c.pass;
      console.log(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`);
    }
    console.log(`  tasks executed more than once (allowed: at least once): ${p.facts.executedTwice} of ${p.events * 2}; executions ${p.facts.executions} for ${p.events * 2} tasks`);
    console.log(`  tasks recorded on a later attempt: ${p.facts.retriedTasks}; earlier attempts: ${JSON.stringify(p.facts.lostAttempts)}`);
    console.log(`  sweepers (all processes): ${Object.keys(p.swept).length === 0 ? 'nothing repaired' : Object.entries(p.swept).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    console.log(`  tasks per worker (the attempt recorded): ${Object.entries(p.facts.tasksByWorker).map(([w, n]) => `${nameOf(w)} ${n}`).join(', ')}`);
    const cpu = Object.entries(p.cpu.seconds).map(([g, s]) => `${g} ${s.toFixed(1)} s (${((s / p.cpu.wallSeconds) * 100).toFixed(0)}% of a core)`);
    console.log(`  CPU over ${p.cpu.wallSeconds.toFixed(1)} s: ${cpu.join('; ')}; machine busy ${(p.cpu.machineBusyShare * 100).toFixed(0)}% of 2 cores`);
  }
  return ok;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (bin/eventops.js loads dist/)');
  const dir = await mkdtemp(join(tmpdir(), 'eventops-scale-bench-'));
  const executions = join(dir, 'executions.log');
  await writeFile(executions, '');
  await writeDefinitions(join(dir, 'defs'), executions);
  const prefix = `eventops-bench-${randomBytes(4).toString('hex')}`;
  const config = join(dir, 'eventops.yaml');
  await writeFile(
    config,
    [
      'server: { port: 0, host: 127.0.0.1 }',
      `sources: [ { name: scale, path: ${JSON.stringify(join(dir, 'defs'))} } ]`,
      `runs: { lease: ${LEASE} }`,
      // A lost lease is seen within a second. sweepAfter (how long a queued task waits before its
      // job is taken as lost) stays at its default, 1m: the backlog here is longer than seconds.
      // With 5 s, before 790ff34, every worker's run sweeper re-enqueued up to 1,000 queued tasks a
      // second (530,000 re-enqueues, a third less throughput in phase B).
      'queue: { sweepInterval: 1s }',
      `redis: { prefix: ${prefix} }`,
      '',
    ].join('\n'),
  );
  const database = await createTestDatabase('eventops_bench');
  const client = new pg.Client({ connectionString: database.url });
  const redis = new Redis(REDIS_URL);
  const processes: ServeProcess[] = [];
  const start = async (name: string, roles: string) => {
    const dataDir = join(dir, name);
    const nodeArgs = options.profile ? ['--cpu-prof', '--cpu-prof-dir', options.profile, '--cpu-prof-name', `scale-${name}-${Date.now()}.cpuprofile`] : [];
    // EVENTOPS__* variables of this process (e.g. EVENTOPS__RUNS__CONCURRENCY=16) reach every server process.
    const overrides = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('EVENTOPS__') && e[1] !== undefined));
    const p = await startServe({ name, roles, config, nodeArgs, env: { ...overrides, DATABASE_URL: database.url, REDIS_URL, EVENTOPS_DATA_DIR: dataDir, LOG_LEVEL: 'info' } });
    processes.push(p);
    return p;
  };
  try {
    await client.connect();
    const api = await start('api', 'api,reconciler');
    const token = (await readFile(join(dir, 'api', 'admin-token'), 'utf8')).trim();
    for (let i = 0; ; i++) {
      const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from definitions where source = 'scale' and removed_revision_id is null`);
      if ((rows[0]?.n ?? 0) >= 3) break;
      if (i > 300) throw new Error(`the definitions were not applied in 30 s:\n${api.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const workers = [await start('worker-1', 'worker')];
    const ctx = { client, api, token, workers, executions, timeoutMs: options.timeoutMs, allProcesses: () => processes };
    console.log(`processes: api ${api.url} (pid ${api.pid}); worker-1 (pid ${workers[0]?.pid}); database ${database.url.replace(/\/\/[^@]*@/, '//')}; Redis prefix ${prefix}`);
    const warm = await sendEvents(api, token, WARMUP_EVENTS, 'warm-up');
    await untilFinal(client, () => warm, WARMUP_EVENTS, 120_000);
    console.log(`warm-up: ${WARMUP_EVENTS} events, every run final (excluded)`);
    const phases: PhaseResult[] = [];
    console.log(`phase A: 1 worker, ${options.eventsOne} events …`);
    phases.push(await phase('phase A (1 worker)', ctx, options.eventsOne, false));
    for (let i = 2; i <= options.workers; i++) workers.push(await start(`worker-${i}`, 'worker'));
    console.log(`phase B: ${options.workers} workers (${workers.map((w) => `${w.name} pid ${w.pid}`).join(', ')}), ${options.events} events${options.noKill ? '' : ', one killed halfway'} …`);
    phases.push(await phase(`phase B (${options.workers} workers${options.noKill ? '' : ', one killed'})`, ctx, options.events, !options.noKill));
    const ok = report(phases, processes);
    // The raw baseline: one-row INSERTs with as many in flight as the events were sent, on the same database, the processes idle.
    const insertsPerSecond = await postgresInsertRate({ url: database.url, count: 5_000, inFlight: IN_FLIGHT });
    console.log(`\nraw PostgreSQL one-row INSERT, ${IN_FLIGHT} in flight: ${insertsPerSecond.toFixed(0)}/s; ratio events/s ÷ inserts/s: ${phases.map((p) => `${p.name} ${(p.eventsPerSecond / insertsPerSecond).toFixed(4)}`).join(', ')}`);
    const errors = processes.flatMap((p) => p.counts.errors.map((line) => `${p.name}: ${line}`));
    if (errors.length > 0) console.log(`\nerror lines logged (${errors.length}, first 5):\n${errors.slice(0, 5).join('\n')}`);
    const file = writeResults({
      ...resultsHeader('scale', ['bullmq', 'pg']),
      method: { inFlight: IN_FLIGHT, warmupEvents: WARMUP_EVENTS, lease: LEASE, sweepInterval: '1s', runsConcurrencyPerWorker: 'default (8) unless overridden', overrides: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('EVENTOPS__'))), actuatorConcurrency: 64, pipeline: 'two local tasks, second needs first, each appends a line to a file', eventsPerSecond: 'events ÷ (first send → the last of their runs final)' },
      phases,
      baseline: { postgresInsertsPerSecond: insertsPerSecond, inFlight: IN_FLIGHT, ratios: Object.fromEntries(phases.map((p) => [p.name, (p.eventsPerSecond / insertsPerSecond).toPrecision(3)])) },
      errorLines: errors.length,
      pass: ok,
    });
    console.log(`\n${ok ? 'PASS' : 'FAIL'}: ${phases.map((p) => `${p.name} ${p.eventsPerSecond.toFixed(1)} events/s`).join('; ')}`);
    console.log(`results: ${file}`);
    if (!ok) process.exitCode = 1;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await client.end().catch(() => undefined);
    await deleteKeys(redis, prefix);
    await redis.quit();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
