// The run engine end to end, against real `eventops serve` processes, in both storage modes:
// embedded (PGlite and the embedded queue) and PostgreSQL with BullMQ on Redis. Events sent
// through the API start the pipelines of test/fixtures/runs; the API shows what happened.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../runners/process-group.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 's3cr3t-deploy-token-9f2c';

interface TaskView {
  name: string;
  status: string;
  actuator: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  attempt: number;
  exitCode: number | null;
  outputs: Record<string, unknown>;
  error: string | null;
  attempts: { error: string | null }[];
  childRunId: string | null;
}
interface RunView {
  id: string;
  status: string;
  outputs: Record<string, unknown>;
  error: string | null;
  parentRunId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  tasks: TaskView[];
}

interface Setup {
  dir: string;
  config: string;
  env: Record<string, string>;
  pg?: TestDatabase;
  prefix: string;
}

async function setUp(mode: 'embedded' | 'postgres'): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), `eventops-runs-${mode}-`));
  const prefix = `eventops-runs-${randomBytes(4).toString('hex')}`;
  const config = join(dir, 'eventops.yaml');
  await writeFile(
    config,
    [
      'server: { port: 0, host: 127.0.0.1 }',
      `dataDir: ${join(dir, 'data')}`,
      `sources: [ { name: runs, path: ${resolve('test/fixtures/runs')}, secrets: [ DEPLOY_TOKEN ] }, { name: platform, path: ${resolve('test/fixtures/runs-shared')} } ]`,
      'runs: { lease: 2s }',
      'queue: { sweepInterval: 1s, sweepAfter: 2s }',
      `redis: { prefix: ${prefix} }`,
      '',
    ].join('\n'),
  );
  const secrets = { EVENTOPS_SECRET_DEPLOY_TOKEN: SECRET, EVENTOPS_SECRET_OTHER_TEAM_TOKEN: 'another-teams-secret' };
  if (mode === 'embedded') return { dir, config, env: secrets, prefix };
  const database = await createTestDatabase();
  return { dir, config, env: { ...secrets, DATABASE_URL: database.url, REDIS_URL }, pg: database, prefix };
}

async function tearDown(setup: Setup): Promise<void> {
  await setup.pg?.drop();
  if (setup.env.REDIS_URL) {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${setup.prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
  await rm(setup.dir, { recursive: true, force: true });
}

function client(server: () => ServerProcess) {
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server().url}${path}`, { ...init, headers: { authorization: `Bearer ${server().token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const until = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 2000)}\n--- server output ---\n${server().output().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  /** Sends an event and returns the id of the one run it starts. */
  const start = async (type: string, body: Record<string, unknown> = {}): Promise<string> => {
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type, body }) });
    const event = await until(`event ${type} matched`, () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received');
    expect(event.runs).toHaveLength(1);
    return (event.runs[0] as { id: string }).id;
  };
  const run = (id: string) => api<RunView>(`/api/v1/runs/${id}`);
  const ended = (id: string, ms?: number) => until(`run ${id} ended`, () => run(id), (r) => !['pending', 'running'].includes(r.status), ms);
  // A run not started yet has no tasks: `absent` then (so a wait keeps waiting, an assertion fails).
  const task = (r: RunView, name: string) => r.tasks.find((t) => t.name === name) ?? ({ name, status: 'absent' } as TaskView);
  const logs = async (id: string, name?: string) => (await api<{ lines: { task: string; text: string; stream: string }[] }>(`/api/v1/runs/${id}/logs${name ? `?task=${name}` : ''}`)).lines;
  return { api, until, start, run, ended, task, logs };
}

/** A zombie counts as gone (PID 1 of some containers never reaps orphans). */
function gone(pid: number): boolean {
  return !processAlive(pid);
}

/** One `eventops serve` process on a fresh set-up for the describe block it is called in, with its definitions applied. */
function useServer(mode: 'embedded' | 'postgres') {
  const state: { setup?: Setup; server?: ServerProcess } = {};
  const server = () => state.server as ServerProcess;
  const c = client(server);
  const start = async () => {
    const setup = state.setup as Setup;
    state.server = await startServerProcess({ config: setup.config, dataDir: join(setup.dir, 'data'), env: setup.env });
  };
  beforeAll(async () => {
    state.setup = await setUp(mode);
    await start();
    await c.until('definitions applied', () => c.api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 35);
  }, 90_000);
  afterAll(async () => {
    await state.server?.stop();
    if (state.setup) await tearDown(state.setup);
  }, 60_000);
  return { c, server, setup: () => state.setup as Setup, restart: start };
}

describe.each(['embedded', 'postgres'] as const)('runs end to end (%s)', (mode) => {
  const { c, setup } = useServer(mode);

  it('runs a 3-task pipeline with needs, if, outputs and contexts to success; outputs visible in the API', async () => {
    const id = await c.start('run.three', { name: 'ops', shout: false });
    const run = await c.ended(id);
    expect(run.status).toBe('succeeded');
    expect(c.task(run, 'make')).toMatchObject({ status: 'succeeded', exitCode: 0, outputs: { greeting: 'hello ops', version: 'v1', count: '3' } });
    expect(c.task(run, 'shout')).toMatchObject({ status: 'skipped' });
    expect(c.task(run, 'print').status).toBe('succeeded');
    expect(run.outputs).toEqual({ greeting: 'hello ops', count: '3' });
    expect((await c.logs(id, 'print')).map((l) => l.text)).toContain('hello ops (v1, shout skipped)');
  });

  it('fails the run on a failing task: dependents skipped, finally ran and saw the status', async () => {
    const marker = join(setup().dir, `marker-${randomBytes(3).toString('hex')}`);
    const run = await c.ended(await c.start('run.fails', { marker }));
    expect(run.status).toBe('failed');
    expect(c.task(run, 'broken')).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(c.task(run, 'after')).toMatchObject({ status: 'skipped' });
    expect(c.task(run, 'cleanup').status).toBe('succeeded');
    expect((await readFile(marker, 'utf8')).trim()).toBe('failed');
  });

  it('cancels mid-task: the whole process group is gone', async () => {
    const pidfile = join(setup().dir, `pid-${randomBytes(3).toString('hex')}`);
    const id = await c.start('run.slow', { pidfile });
    await c.until('the task started its sleep', async () => existsSync(pidfile) && (await readFile(pidfile, 'utf8')).trim() !== '', Boolean);
    const pid = Number((await readFile(pidfile, 'utf8')).trim());
    expect(gone(pid)).toBe(false);
    await c.api(`/api/v1/runs/${id}/cancel`, { method: 'POST' });
    const run = await c.ended(id);
    expect(run.status).toBe('cancelled');
    expect(c.task(run, 'sleep').status).toBe('cancelled');
    await c.until('the background sleep is gone', async () => gone(pid), Boolean, 10_000);
  });

  it('times a run out', async () => {
    const run = await c.ended(await c.start('run.times-out'));
    expect(run.status).toBe('timed_out');
    expect(['timed_out', 'cancelled']).toContain(c.task(run, 'forever').status);
  });

  it('retries a failing task by its policy', async () => {
    const counter = join(setup().dir, `counter-${randomBytes(3).toString('hex')}`);
    const run = await c.ended(await c.start('run.flaky', { counter }));
    expect(run.status).toBe('succeeded');
    expect(c.task(run, 'try')).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(c.task(run, 'try').attempts).toHaveLength(1);
  });

  it('waits for an approval, then proceeds', async () => {
    const id = await c.start('run.gated');
    await c.until('the approval waits', () => c.run(id), (r) => c.task(r, 'approve').status === 'waiting_approval');
    expect(c.task(await c.run(id), 'ship').status).toBe('pending');
    await c.api(`/api/v1/runs/${id}/tasks/approve/approve`, { method: 'POST', body: JSON.stringify({ comment: 'looks good' }) });
    const run = await c.ended(id);
    expect(run.status).toBe('succeeded');
    expect(c.task(run, 'approve')).toMatchObject({ status: 'succeeded', outputs: { comment: 'looks good' } });
    expect(c.task(run, 'ship').status).toBe('succeeded');
  });

  it('runs a nested pipeline as a child run whose outputs flow back', async () => {
    const run = await c.ended(await c.start('run.parent'));
    expect(run.status).toBe('succeeded');
    expect(run.outputs).toEqual({ 'from-child': 'hello nested' });
    const child = await c.run(c.task(run, 'child').childRunId as string);
    expect(child).toMatchObject({ status: 'succeeded', parentRunId: run.id });
    expect((await c.logs(run.id, 'use')).map((l) => l.text)).toContain('child said hello nested');
  });

  it('runs one run of a concurrency group at a time, in order', async () => {
    const first = await c.start('run.one-at-a-time');
    const second = await c.start('run.one-at-a-time');
    const [a, b] = [await c.ended(first), await c.ended(second)];
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
    expect(Date.parse(b.startedAt as string)).toBeGreaterThanOrEqual(Date.parse(a.finishedAt as string));
  });

  it('cancels the run in progress when a newer run of its group starts (cancelInProgress)', async () => {
    const first = await c.start('run.newest-wins');
    await c.until('the first run holds the group', () => c.run(first), (r) => c.task(r, 'hold').status === 'running');
    const second = await c.start('run.newest-wins');
    expect((await c.ended(first)).status).toBe('cancelled');
    await c.until('the newer run started', () => c.run(second), (r) => c.task(r, 'hold').status === 'running');
    await c.api(`/api/v1/runs/${second}/cancel`, { method: 'POST' });
    expect((await c.ended(second)).status).toBe('cancelled');
  });

  it("holds an actuator's concurrency (1): parallel tasks take turns, and the join starts once", async () => {
    const run = await c.ended(await c.start('run.narrow'));
    expect(run.status).toBe('succeeded');
    const spans = ['a', 'b', 'c'].map((name) => c.task(run, name)).map((t) => [Date.parse(t.startedAt as string), Date.parse(t.finishedAt as string)] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] as number);
    expect(c.task(run, 'a').actuator).toBe('runs/narrow');
    expect(c.task(run, 'join')).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect((await c.logs(run.id, 'join')).filter((l) => l.text === 'joined')).toHaveLength(1);
  });

  it('fails a task no actuator can take, saying which tags are missing', async () => {
    const run = await c.ended(await c.start('run.nowhere'));
    expect(run.status).toBe('failed');
    expect(c.task(run, 'gpu-work')).toMatchObject({ status: 'failed', error: 'no local actuator has the tags [gpu] in source runs or any other source' });
  });

  it('masks a secret in logs and outputs, and refuses a secret the source may not use', async () => {
    const run = await c.ended(await c.start('run.uses-secret'));
    expect(run.status).toBe('succeeded');
    expect((await c.logs(run.id, 'deploy')).map((l) => l.text)).toContain('token is ***');
    expect(c.task(run, 'deploy').outputs).toEqual({ leak: '***' });
    expect(JSON.stringify(await c.api(`/api/v1/runs/${run.id}/logs`))).not.toContain(SECRET);
    expect(JSON.stringify(run)).not.toContain(SECRET);
    const borrowed = await c.ended(await c.start('run.borrows-secret'));
    expect(borrowed.status).toBe('failed');
    expect(c.task(borrowed, 'borrow').error).toContain('source runs may not use secret OTHER_TEAM_TOKEN');
    expect(JSON.stringify(borrowed)).not.toContain('another-teams-secret');
  });

  it("runs a task on another source's actuator when its own source has none with the tags", async () => {
    const run = await c.ended(await c.start('run.cross'));
    expect(run.status).toBe('succeeded');
    expect(c.task(run, 'on-platform').actuator).toBe('platform/platform-shell');
  });

  it('never runs event data as shell code', async () => {
    const owned = join(setup().dir, `owned-${randomBytes(3).toString('hex')}`);
    const title = `$(touch ${owned}) \`touch ${owned}\`; touch ${owned}`;
    const run = await c.ended(await c.start('run.echo-title', { title }));
    expect(run.status).toBe('succeeded');
    expect((await c.logs(run.id, 'echo')).map((l) => l.text)).toContain(`title: ${title}`);
    expect(existsSync(owned)).toBe(false);
  });
});

describe('a worker killed with SIGKILL mid-task (postgres, three processes)', () => {
  let setup: Setup;
  const servers: ServerProcess[] = [];
  let api: ServerProcess;
  const c = client(() => api);

  beforeAll(async () => {
    setup = await setUp('postgres');
    api = await startServerProcess({ config: setup.config, dataDir: join(setup.dir, 'data'), env: setup.env, roles: 'api,reconciler' });
    servers.push(api);
    for (let i = 0; i < 2; i++) servers.push(await startServerProcess({ config: setup.config, dataDir: join(setup.dir, 'data'), env: setup.env, roles: 'worker' }));
    await c.until('definitions applied', () => c.api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 35);
  }, 90_000);
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await tearDown(setup);
  }, 60_000);

  it('retries the task on another worker once the lease runs out; the run ends', async () => {
    const id = await c.start('run.long');
    const db = new pg.Client({ connectionString: setup.env.DATABASE_URL });
    await db.connect();
    let worker: string;
    try {
      worker = await c.until(
        'the task runs',
        async () => (await db.query<{ worker: string | null; status: string }>(`select worker, status from task_runs where run_id = $1`, [id])).rows[0],
        (t) => t?.status === 'running' && t.worker !== null,
      ).then((t) => t?.worker as string);
    } finally {
      await db.end();
    }
    const victim = servers.find((s) => worker.endsWith(`:${s.pid}`));
    expect(victim).toBeDefined();
    await victim?.kill();
    const run = await c.ended(id, 60_000);
    expect(run.status).toBe('succeeded');
    const task = c.task(run, 'work');
    expect(task.attempt).toBe(2);
    expect(task.attempts[0]?.error).toMatch(/lease/);
  });
});

describe('the embedded server killed with SIGKILL mid-task and started again', () => {
  const { c, server, restart } = useServer('embedded');

  it('finishes the run after the restart', async () => {
    const id = await c.start('run.long');
    await c.until('the task runs', () => c.run(id), (r) => c.task(r, 'work').status === 'running');
    await server().kill();
    await restart();
    const run = await c.ended(id, 60_000);
    expect(run.status).toBe('succeeded');
    expect(c.task(run, 'work').attempt).toBe(2);
  });
});

describe('the embedded server stopped with SIGTERM mid-task', () => {
  const { c, server, restart } = useServer('embedded');

  it('finishes the task in flight before it exits: the run succeeds on its first attempt', async () => {
    const id = await c.start('run.long');
    await c.until('the task runs', () => c.run(id), (r) => c.task(r, 'work').status === 'running');
    const stopping = Date.now();
    await server().stop();
    expect(Date.now() - stopping).toBeLessThan(15_000);
    expect(server().output()).not.toMatch(/interrupted/);
    await restart();
    const run = await c.ended(id, 30_000);
    expect(run.status).toBe('succeeded');
    expect(c.task(run, 'work')).toMatchObject({ status: 'succeeded', attempt: 1 });
  });
});
