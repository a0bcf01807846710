// Operability of `eventops serve` as a platform sees it, in both storage modes: `/readyz` (200
// while the database and the queue answer; 503 naming the queue when Redis becomes unreachable,
// and 200 again when it is back), `/metrics` as valid Prometheus text whose counters move after
// an event and its run, and JSON log lines on stdout that carry the run's id. In the PostgreSQL
// mode both PostgreSQL and Redis are reached through TCP proxies the test cuts (503 naming each).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText, type Exposition } from './helpers/prometheus-text.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

const REDIS = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

describe.each(['embedded', 'postgres'] as const)('observability (%s)', (mode) => {
  let dir: string;
  let prefix: string;
  let pg: TestDatabase | undefined;
  let proxy: TcpProxy | undefined;
  let pgProxy: TcpProxy | undefined;
  let server: ServerProcess;
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const scrape = async (): Promise<Exposition> => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await res.text());
  };
  const readyz = async () => {
    const res = await fetch(`${server.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, { ok: boolean; error?: string }> } };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `eventops-obs-${mode}-`));
    prefix = `eventops-obs-${randomBytes(4).toString('hex')}`;
    const config = join(dir, 'eventops.yaml');
    await writeFile(config, [`server: { port: 0, host: 127.0.0.1 }`, `dataDir: ${join(dir, 'data')}`, `sources: [ { name: obs, path: ${resolve('test/fixtures/observability')} } ]`, `redis: { prefix: ${prefix} }`, ''].join('\n'));
    const env: Record<string, string> = { LOG_LEVEL: 'info' };
    if (mode === 'postgres') {
      pg = await createTestDatabase();
      proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) });
      // PostgreSQL is reached through a proxy too, to be cut later.
      const database = new URL(pg.url);
      pgProxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
      database.host = `127.0.0.1:${pgProxy.port}`;
      Object.assign(env, { DATABASE_URL: database.toString(), REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    }
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env });
  });

  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await pgProxy?.close();
    await pg?.drop();
    if (mode === 'postgres') {
      const redis = new Redis(REDIS.toString());
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('is ready when its database and queue answer', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ready', checks: { database: { ok: true }, queue: { ok: true } } });
    // Liveness and metrics need no token.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('counts an event, its match and its run in /metrics, and logs the run with its id', async () => {
    // Sent once the definitions are applied (the first reconcile runs in the background after the start).
    for (const deadline = Date.now() + 30_000; (await api<{ ready: string }>('/api/v1/sources/obs')).ready !== 'True'; ) {
      if (Date.now() > deadline) throw new Error(`source obs never became ready:\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = await scrape();
    expect(before.value('eventops_runs_finished_total', { pipeline: 'hello' })).toBeUndefined();
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'obs.hello', body: {} }) });
    let runId = '';
    const deadline = Date.now() + 30_000;
    for (;;) {
      const event = await api<{ status: string; runs: { id: string; status: string }[] }>(`/api/v1/events/${eventId}`);
      const run = event.runs[0];
      if (run && run.status === 'succeeded') {
        runId = run.id;
        break;
      }
      if (Date.now() > deadline) throw new Error(`the run did not succeed: ${JSON.stringify(event)}\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
    const after = await scrape();
    // The source was reconciled (in the background, after the start) before its trigger could match.
    expect(after.value('eventops_reconcile_duration_seconds_count', { source: 'obs', outcome: 'applied' })).toBeGreaterThanOrEqual(1);
    expect(after.value('eventops_events_total', { source: 'api', outcome: 'received' })).toBe(1);
    expect(after.value('eventops_events_total', { source: 'api', outcome: 'matched' })).toBe(1);
    expect(after.value('eventops_event_match_duration_seconds_count')).toBe(1);
    expect(after.value('eventops_runs_finished_total', { pipeline: 'hello', status: 'succeeded' })).toBe(1);
    expect(after.value('eventops_task_duration_seconds_count', { runner: 'local', status: 'succeeded' })).toBe(1);
    expect(after.value('eventops_runs_in_progress', { status: 'running' })).toBe(0);
    expect(after.value('eventops_queue_jobs', { queue: 'events', state: 'waiting' })).toBe(0);
    expect(after.value('eventops_queue_jobs', { queue: 'tasks', state: 'failed' })).toBe(0);
    // Nothing of the configuration's addresses or the token leaks into the labels.
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).not.toContain(server.token);
    expect(text).not.toMatch(/redis:\/\/|postgres:\/\//);

    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ofRun = lines.filter((l) => l.runId === runId);
    expect(ofRun.map((l) => l.msg)).toEqual(expect.arrayContaining(['run started', 'task attempt ended', 'run finished']));
    expect(ofRun.find((l) => l.msg === 'task attempt ended')).toMatchObject({ task: 'greet', attempt: 1, runner: 'local', status: 'succeeded' });
    expect(lines.find((l) => l.msg === 'event matched')).toMatchObject({ eventId, source: 'api', status: 'matched', runIds: [runId] });
  }, 60_000);

  const readyAgain = async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const again = await readyz();
      if (again.status === 200) return;
      if (Date.now() > deadline) throw new Error(`still not ready: ${JSON.stringify(again.body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  it.runIf(mode === 'postgres')('answers 503 naming the database while PostgreSQL is unreachable, and is ready again once it is back', async () => {
    await pgProxy?.down();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.checks.database).toMatchObject({ ok: false });
    expect(down.body.checks.queue).toMatchObject({ ok: true });
    expect(JSON.stringify(down.body)).not.toMatch(/postgres:\/\//);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await pgProxy?.up();
    await readyAgain();
  });

  it.runIf(mode === 'postgres')('answers 503 naming the queue while Redis is unreachable, and is ready again once it is back', async () => {
    await proxy?.down();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unready');
    expect(down.body.checks.database).toMatchObject({ ok: true });
    expect(down.body.checks.queue).toMatchObject({ ok: false });
    expect(JSON.stringify(down.body)).not.toContain(String(proxy?.port) + '/');
    // Liveness does not depend on Redis.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await proxy?.up();
    await readyAgain();
  });
});
