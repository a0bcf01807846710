// Roles as separate processes on one PostgreSQL and Redis, stopped the way a platform stops them:
// a worker sent SIGTERM mid-task answers /readyz with 503 first, stops waiting for its task after
// `runs.shutdownTimeout` and hands it back (another worker runs it as a new attempt that does not
// count against the task's retries, so the run still succeeds); of two reconciler processes one
// leads, and the other takes over when the leader is stopped; processes given `server.adminToken`
// all accept that token and write no token file.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { parsePrometheusText } from './helpers/prometheus-text.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let dir: string;
let database: TestDatabase;
let prefix: string;
let config: string;
const servers: ServerProcess[] = [];

const definitions: Record<string, string> = {
  'actuators/shell.yaml': 'apiVersion: eventops.dev/v1\nkind: Actuator\nmetadata: { name: shell }\nspec: { tags: [local], concurrency: 4, local: {} }\n',
  // No retries: only a hand-back may run it a second time.
  'pipelines/slow.yaml': [
    'apiVersion: eventops.dev/v1',
    'kind: Pipeline',
    'metadata: { name: slow }',
    'spec:',
    '  inputs: [ { name: marker, type: string, required: true } ]',
    '  tasks:',
    '    - name: work',
    '      commands: [ "echo started >> \\"$MARKER\\"", "sleep 6", "echo finished" ]',
    '      env: { MARKER: "${{ inputs.marker }}" }',
    '',
  ].join('\n'),
  'triggers/slow.yaml': 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: slow }\nspec:\n  event: { source: api, type: shutdown.slow }\n  pipelines: [ { name: slow, inputs: { marker: "${{ event.body.marker }}" } } ]\n',
};

async function start(roles: string): Promise<ServerProcess> {
  const server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { DATABASE_URL: database.url, REDIS_URL }, roles });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eventops-shutdown-'));
  database = await createTestDatabase();
  prefix = `eventops-shutdown-${randomBytes(4).toString('hex')}`;
  for (const [file, text] of Object.entries(definitions)) {
    await mkdir(join(dir, 'defs', file, '..'), { recursive: true });
    await writeFile(join(dir, 'defs', file), text);
  }
  config = join(dir, 'eventops.yaml');
  await writeFile(
    config,
    [
      'server: { port: 0, host: 127.0.0.1, shutdownDelay: 1500ms }',
      `dataDir: ${join(dir, 'data')}`,
      `sources: [ { name: ops, path: ${join(dir, 'defs')} } ]`,
      'runs: { lease: 3s, shutdownTimeout: 1s }',
      'queue: { sweepInterval: 1s, sweepAfter: 2s }',
      `redis: { prefix: ${prefix} }`,
      '',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  await database?.drop();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1000)}\n${servers.map((s) => s.output().slice(-1500)).join('\n---\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function leading(server: ServerProcess): Promise<number | undefined> {
  try {
    const res = await fetch(`${server.url}/metrics`);
    return parsePrometheusText(await res.text()).value('eventops_reconciler_leader');
  } catch {
    return undefined;
  }
}

describe('roles on one PostgreSQL and Redis, stopped with SIGTERM', () => {
  it('a stopping worker turns unready first, then hands its task back; another worker runs it and the run succeeds', async () => {
    const api = await start('api,reconciler');
    const workers = [await start('worker'), await start('worker')];
    const headers = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' };
    await until('definitions applied', async () => (await (await fetch(`${api.url}/api/v1/definitions`, { headers })).json()) as { total: number }, (d) => d.total === 3);

    const marker = join(dir, 'marker');
    const sent = await fetch(`${api.url}/api/v1/events`, { method: 'POST', headers, body: JSON.stringify({ type: 'shutdown.slow', body: { marker } }) });
    expect(sent.status).toBe(202);
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const running = await until(
        'the task runs on a worker',
        async () => (await db.query<{ run_id: string; worker: string | null; status: string }>(`select run_id, worker, status from task_runs where name = 'work'`)).rows[0],
        (t) => t?.status === 'running' && t.worker !== null,
      ).then((t) => t as { run_id: string; worker: string; status: string });
      const victim = workers.find((w) => running.worker?.endsWith(`:${w.pid}`)) as ServerProcess;
      const survivor = workers.find((w) => w !== victim) as ServerProcess;
      expect(victim).toBeDefined();
      await until('the task started', async () => (await readFile(marker, 'utf8').catch(() => '')).length, (n) => n > 0);

      const stopping = Date.now();
      const stopped = victim.stop();
      // Readiness goes first: 503 naming the shutdown while the process still answers.
      const ready = await until(
        'the worker says it is not ready',
        async () => {
          const res = await fetch(`${victim.url}/readyz`);
          return { status: res.status, body: (await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> } };
        },
        (r) => r.status === 503,
        5_000,
      );
      expect(ready.body.checks.shutdown).toMatchObject({ ok: false, error: 'this process is shutting down' });
      expect(ready.body.checks.database?.ok).toBe(true);
      expect((await fetch(`${survivor.url}/readyz`)).status).toBe(200);
      await stopped;
      // The delay (1.5 s), the wait for the task (1 s), stopping it: far less than the task's 6 s.
      expect(Date.now() - stopping).toBeLessThan(5_500);
      expect(victim.output()).not.toMatch(/\bERROR\b|"level":50/);

      const runId = running.run_id;
      const run = await until(
        'the run ends',
        async () => (await (await fetch(`${api.url}/api/v1/runs/${runId}`, { headers })).json()) as { status: string; tasks: { name: string; status: string; attempt: number; worker?: string; attempts: { attempt: number; error: string | null; handedBack?: boolean }[] }[] },
        (r) => !['pending', 'running'].includes(r.status),
        60_000,
      );
      expect(run.status).toBe('succeeded');
      const task = run.tasks.find((t) => t.name === 'work');
      expect(task).toMatchObject({ status: 'succeeded', attempt: 2 });
      expect(task?.attempts[0]).toMatchObject({ attempt: 1, handedBack: true });
      expect(task?.attempts[0]?.error).toMatch(/shut down and handed the task back/);
      const row = (await db.query<{ worker: string }>(`select worker from task_runs where run_id = $1 and name = 'work'`, [runId])).rows[0];
      expect(row?.worker.endsWith(`:${survivor.pid}`)).toBe(true);
      // Started twice (the first was stopped), finished once.
      expect((await readFile(marker, 'utf8')).trim().split('\n')).toEqual(['started', 'started']);
    } finally {
      await db.end();
    }
  }, 120_000);

  it('of two reconciler processes one leads; when it stops, the other takes over', async () => {
    const first = servers[0] as ServerProcess;
    const second = await start('reconciler');
    await until('the first leads', () => leading(first), (v) => v === 1);
    // The second keeps trying (every 5 s) but does not lead while the first does.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await leading(second)).toBe(0);
    expect(await leading(first)).toBe(1);
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    await until('the second leads', () => leading(second), (v) => v === 1, 20_000);
  }, 60_000);

  it('processes given server.adminToken accept that token, refuse the one made before, and write no token file', async () => {
    const made = (await readFile(join(dir, 'data', 'admin-token'), 'utf8')).trim();
    const given = `given-${randomBytes(16).toString('hex')}`;
    const started = [];
    for (const [i, roles] of ['api', 'worker'].entries()) {
      const dataDir = join(dir, `given-${i}`);
      const server = await startServerProcess({
        config,
        dataDir,
        roles,
        token: given,
        env: { DATABASE_URL: database.url, REDIS_URL, EVENTOPS_DATA_DIR: dataDir, EVENTOPS__SERVER__ADMIN_TOKEN: '{ secret: OPS_ADMIN }', EVENTOPS_SECRET_OPS_ADMIN: given },
      });
      servers.push(server);
      started.push(server);
      expect(await readdir(dataDir).catch(() => [])).not.toContain('admin-token');
      expect(server.output()).not.toContain(given);
    }
    const api = started[0] as ServerProcess;
    const read = (token: string) => fetch(`${api.url}/api/v1/sources`, { headers: { authorization: `Bearer ${token}` } });
    expect((await read(given)).status).toBe(200);
    expect((await read(made)).status).toBe(401);
  }, 60_000);
});
