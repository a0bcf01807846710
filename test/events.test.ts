// Event intake end to end, in one server process as `eventops serve` builds it: real PostgreSQL,
// real Redis (BullMQ), the starter definitions as a local source. Events sent through the API
// and a signed GitHub push are accepted, matched by the workers, and start pending runs that
// `GET /api/v1/events/:id` explains.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type Io } from '../cli/index.js';
import { startServer, type RunningServer } from '../cli/start-server.js';
import { loadConfig } from '../config/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';

const prefix = `eventops-test-${randomBytes(4).toString('hex')}`;

describe('events end to end', () => {
  let pg: TestDatabase;
  let dataDir: string;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-events-'));
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      PORT: '0',
      HOST: '127.0.0.1',
      EVENTOPS_DATA_DIR: dataDir,
      EVENTOPS__SOURCES: JSON.stringify([{ name: 'template', path: resolve('definitions-template') }]),
      EVENTOPS__GITHUB__WEBHOOK_SECRETS: '[{ secret: GH_HOOK }]',
      EVENTOPS_SECRET_GH_HOOK: 'hook-secret',
      // The sweeper looks often, so a lost job comes back within the test's time.
      EVENTOPS__QUEUE__SWEEP_INTERVAL: '500ms',
      EVENTOPS__QUEUE__SWEEP_AFTER: '1s',
    };
    const config = loadConfig({ cwd: dataDir, env });
    server = await startServer(config, { env, logger: pino({ level: 'silent' }), queuePrefix: prefix });
    token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    // The server's own first reconcile may have applied the definitions already.
    expect(['applied', 'unchanged']).toContain((await server.reconciler.requestReconcile('template')).outcome);
  });
  afterAll(async () => {
    await server?.close();
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  const settled = async (id: string) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const event = (await (await api(`/api/v1/events/${id}`)).json()) as { status: string; verdicts: { trigger: string; verdict: string; reason: string }[]; runs: { trigger: string; pipeline: string; inputs: Record<string, unknown> }[] };
      if (event.status !== 'received' || Date.now() > deadline) return event;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('accepts an API event only with an events:write token, and a worker matches it into a pending run', async () => {
    const body = 'apiVersion: eventops.dev/v1\nkind: Event\ntype: hello\nbody: { name: ops }\n';
    expect((await fetch(`${server.url}/api/v1/events`, { method: 'POST', body })).status).toBe(401);
    const res = await api('/api/v1/events', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    const event = await settled(eventId);
    expect(event.status).toBe('matched');
    expect(event.runs).toEqual([expect.objectContaining({ trigger: 'hello', pipeline: 'hello-world', inputs: { greeting: 'Hello', name: 'ops' } })]);
  });

  it('explains with the CLI why a trigger did not match', async () => {
    let out = '';
    const io: Io = { out: (s) => (out += s), err: () => undefined, cwd: dataDir, env: { EVENTOPS_SERVER: server.url, EVENTOPS_TOKEN: token } };
    expect(await run(['event', 'send', '-f', resolve('definitions-template/events/deploy-requested.yaml')], io)).toBe(0);
    const eventId = /event ([0-9a-f-]{36}) accepted/.exec(out)?.[1] as string;
    expect(eventId).toBeDefined();
    await settled(eventId);
    out = '';
    expect(await run(['events', 'get', eventId], io)).toBe(0);
    expect(out).toMatch(/deploy-requested\s+matched/);
    const wrong = await api('/api/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'deploy.requested', subject: 'services.payments', labels: { env: 'qa' }, body: { sha: '3f9c2e1' } }) });
    const other = await settled(((await wrong.json()) as { eventId: string }).eventId);
    expect(other.status).toBe('unmatched');
    expect(other.verdicts).toContainEqual(expect.objectContaining({ trigger: 'deploy-requested', verdict: 'filtered', reason: expect.stringContaining('labels.env') }));
  });

  it('matches a signed GitHub push, and a redelivery creates nothing new', async () => {
    const payload = JSON.stringify({ ref: 'refs/heads/main', after: 'aaaabbbbccccddddeeeeffff0000111122223333', commits: [{ id: 'aaaabbbbccccddddeeeeffff0000111122223333' }], repository: { full_name: 'acme/payments', clone_url: 'https://example.invalid/acme/payments.git' } });
    const delivery = randomUUID();
    const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery, 'x-hub-signature-256': await sign('hook-secret', payload) };
    const res = await fetch(`${server.url}/webhooks/github`, { method: 'POST', headers, body: payload });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    const event = await settled(eventId);
    expect(event.runs).toEqual([expect.objectContaining({ trigger: 'build-on-push', inputs: expect.objectContaining({ ref: 'aaaabbbbccccddddeeeeffff0000111122223333' }) })]);
    const again = await fetch(`${server.url}/webhooks/github`, { method: 'POST', headers, body: payload });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ eventId, duplicate: true });
    const bad = await fetch(`${server.url}/webhooks/github`, { method: 'POST', headers: { ...headers, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign('wrong', payload) }, body: payload });
    expect(bad.status).toBe(401);
  });

  it('matches an event once even when Redis loses its job between accept and match', async () => {
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    const queue = new Queue('events', { connection: redis, prefix });
    try {
      await queue.pause(); // the workers take nothing: the accepted event's job waits in Redis
      const res = await api('/api/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'hello', body: { name: 'flushed' } }) });
      expect(res.status).toBe(202);
      const { eventId } = (await res.json()) as { eventId: string };
      expect(await queue.getJobCountByTypes('wait')).toBe(1);
      // Redis loses everything of this server's prefix (the job and the pause with it).
      const keys = await redis.keys(`${prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);
      expect(((await (await api(`/api/v1/events/${eventId}`)).json()) as { status: string }).status).toBe('received');
      // The sweeper finds the event still `received` and enqueues it again.
      const event = await settled(eventId);
      expect(event.status).toBe('matched');
      expect(event.runs).toEqual([expect.objectContaining({ trigger: 'hello', inputs: { greeting: 'Hello', name: 'flushed' } })]);
      // Later sweeps add nothing: the event is matched once.
      await new Promise((r) => setTimeout(r, 2_000));
      const later = (await (await api(`/api/v1/events/${eventId}`)).json()) as { runs: unknown[] };
      expect(later.runs).toHaveLength(1);
    } finally {
      await queue.close();
      await redis.quit();
    }
  });
});
