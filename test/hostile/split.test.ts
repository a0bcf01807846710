// The hostile inputs of issue 20 against a split deployment: an `api` process and a
// `worker,reconciler` process (the built CLI) on one PostgreSQL and Redis (BullMQ), with small
// limits. The api answers what it must refuse at once (alias bombs, NULs, deep nesting, other
// kinds, unsigned and oversized bodies, bodies past the bytes in flight); the worker matches a
// backtracking glob and a costly CEL filter to `filtered` verdicts with reasons and caps a 5 MB
// task log; the api pages that log and caps its followers. Throughout, both processes answer
// /healthz within 1 s and the api's memory stays bounded; every event answered 202 is stored
// and matched, and a plain event still runs to success afterwards.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { rssOf, watchHealth, type HealthWatch } from './harness.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MiB = 1024 * 1024;
const ADMIN = `split-admin-${randomBytes(16).toString('hex')}`;
const HOOK = 'split-hook-secret';
const LIMITS = { maxBodySize: 2 * MiB, bodiesInFlight: 4 * MiB, bodyTimeoutS: 3, taskLog: MiB, page: 128 * 1024, perToken: 3 };
/** The api process: a Node server with PostgreSQL and Redis clients; far below what held bodies or a held log would take. */
const API_RSS_BOUND = 400 * MiB;

const SEVEN_NESTED = 'body.l.all(a, body.l.all(b, body.l.all(c, body.l.all(d, body.l.all(e, body.l.all(f, body.l.all(g, a + b + c + d + e + f + g >= 0)))))))';
const definitions: Record<string, string> = {
  'actuators/shell.yaml': 'apiVersion: eventops.dev/v1\nkind: Actuator\nmetadata: { name: shell }\nspec:\n  tags: [local]\n  concurrency: 4\n  local: {}\n',
  'pipelines/hello.yaml': 'apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: hello }\nspec:\n  tasks: [ { name: hi, commands: [ "echo hello" ] } ]\n',
  'pipelines/chatty.yaml': `apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: chatty }\nspec:\n  tasks: [ { name: print, commands: [ "yes ${'y'.repeat(199)} | head -c 5000000", "echo done printing" ] } ]\n`,
  'pipelines/slow.yaml': 'apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: slow }\nspec:\n  tasks: [ { name: wait, commands: [ "echo waiting", "sleep 30" ] } ]\n',
  'triggers/hello.yaml': 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: hello }\nspec:\n  event: { source: api, type: split.hello }\n  pipelines: [ { name: hello } ]\n',
  'triggers/chatty.yaml': 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: chatty }\nspec:\n  event: { source: api, type: split.chatty }\n  pipelines: [ { name: chatty } ]\n',
  'triggers/slow.yaml': 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: slow }\nspec:\n  event: { source: api, type: split.slow }\n  pipelines: [ { name: slow } ]\n',
  'triggers/glob-bomb.yaml': "apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: glob-bomb }\nspec:\n  event: { source: api, type: split.match }\n  filters: [ { path: body.ref, value: '*-*-*-*-prod', match: glob } ]\n  pipelines: [ { name: hello } ]\n",
  'triggers/costly.yaml': `apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: costly }\nspec:\n  event: { source: api, type: split.match }\n  filters: [ { expr: "${SEVEN_NESTED}" } ]\n  pipelines: [ { name: hello } ]\n`,
};

/** 9 levels of aliases, each a list of 9 of the one before: 9^9 leaves once expanded, under 1 KB as text. */
const ALIAS_BOMB = [
  'apiVersion: eventops.dev/v1',
  'kind: Event',
  'type: split.hello',
  'body:',
  '  a: &a ["x","x","x","x","x","x","x","x","x"]',
  ...['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((k, i) => {
    const prev = 'abcdefghi'[i] as string;
    return `  ${k}: &${k} [${Array.from({ length: 9 }, () => `*${prev}`).join(',')}]`;
  }),
  '',
].join('\n');

let dir: string;
let database: TestDatabase;
let prefix: string;
let api: ServerProcess;
let worker: ServerProcess;
let health: { api: HealthWatch; worker: HealthWatch };
const accepted: string[] = [];
const sockets: Socket[] = [];

async function call<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${api.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    body = text as T;
  }
  return { status: res.status, body, ms: performance.now() - started };
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 800)}\n--- api ---\n${api.output().slice(-1500)}\n--- worker ---\n${worker.output().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function send(event: unknown, contentType = 'application/json'): Promise<{ status: number; body: { eventId?: string; error?: { message: string } }; ms: number }> {
  const result = await call<{ eventId?: string; error?: { message: string } }>('/api/v1/events', { method: 'POST', body: typeof event === 'string' ? event : JSON.stringify(event), headers: { 'content-type': contentType } });
  if (result.status === 202 && result.body.eventId) accepted.push(result.body.eventId);
  return result;
}

/** Sends the request head (and `body`, if given) on a raw socket; resolves with the status code once an answer comes. */
function rawHead(lines: string[], body?: Buffer): { socket: Socket; status: Promise<number> } {
  const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (body) socket.write(body);
  let text = '';
  const status = new Promise<number>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    socket.on('close', () => resolve(0));
  });
  return { socket, status };
}

function githubHead(length: number, signed: boolean): string[] {
  return ['POST /webhooks/github HTTP/1.1', 'host: eventops', 'content-type: application/json', `content-length: ${length}`, 'x-github-event: push', `x-github-delivery: ${randomUUID()}`, ...(signed ? [`x-hub-signature-256: sha256=${'0'.repeat(64)}`] : [])];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eventops-hostile-split-'));
  for (const [file, text] of Object.entries(definitions)) {
    mkdirSync(join(dir, 'defs', file, '..'), { recursive: true });
    writeFileSync(join(dir, 'defs', file), text);
  }
  database = await createTestDatabase();
  prefix = `eventops-hostile-split-${randomBytes(4).toString('hex')}`;
  const config = join(dir, 'eventops.yaml');
  writeFileSync(
    config,
    [
      'server: { port: 0, host: 127.0.0.1, adminToken: { secret: SPLIT_ADMIN } }',
      `sources: [ { name: ops, path: ${join(dir, 'defs')} } ]`,
      `redis: { prefix: ${prefix} }`,
      'github: { webhookSecrets: [ { secret: SPLIT_HOOK } ] }',
      'limits:',
      `  http: { maxBodySize: ${LIMITS.maxBodySize}, bodiesInFlight: ${LIMITS.bodiesInFlight}, bodyTimeout: ${LIMITS.bodyTimeoutS}s }`,
      `  logs: { taskLogSize: ${LIMITS.taskLog}, pageSize: ${LIMITS.page}, maxFollowersPerToken: ${LIMITS.perToken} }`,
      '  yaml: { maxAliases: 50 }',
      '',
    ].join('\n'),
  );
  const env = { DATABASE_URL: database.url, REDIS_URL, EVENTOPS_SECRET_SPLIT_ADMIN: ADMIN, EVENTOPS_SECRET_SPLIT_HOOK: HOOK };
  api = await startServerProcess({ config, dataDir: join(dir, 'api'), roles: 'api', token: ADMIN, env: { ...env, EVENTOPS_DATA_DIR: join(dir, 'api') } });
  worker = await startServerProcess({ config, dataDir: join(dir, 'worker'), roles: 'worker,reconciler', token: ADMIN, env: { ...env, EVENTOPS_DATA_DIR: join(dir, 'worker') } });
  await until('the source is ready', () => call<{ ready?: string }>('/api/v1/sources/ops'), (r) => r.body.ready === 'True');
  health = { api: watchHealth(api.url, { pid: api.pid }), worker: watchHealth(worker.url, { pid: worker.pid }) };
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await health?.api.stop();
  await health?.worker.stop();
  await api?.stop();
  await worker?.stop();
  await database?.drop();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('hostile input to a split api and worker on PostgreSQL and Redis', () => {
  it('refuses bad events at once with a 400 that says what and where', async () => {
    const bomb = await send(ALIAS_BOMB, 'application/yaml');
    expect(bomb.status, JSON.stringify(bomb.body)).toBe(400);
    expect(bomb.body.error?.message).toMatch(/line \d+, column \d+: too many YAML aliases/);
    expect(bomb.ms).toBeLessThan(1_000);

    const nul = await send({ type: 'split.\u0000hello', body: {} });
    expect(nul.status).toBe(400);
    expect(nul.body.error?.message).toContain('type contains a NUL character');

    // Written as text: JSON.stringify itself overflows the stack at this depth.
    const nested = await send(`{"type":"split.hello","body":${'['.repeat(5_000)}"bottom"${']'.repeat(5_000)}}`);
    expect(nested.status).toBe(400);
    expect(nested.body.error?.message).toContain('limits.http.maxDepth');

    const pipeline = await send({ apiVersion: 'eventops.dev/v1', kind: 'Pipeline', metadata: { name: 'x' }, spec: { tasks: [] } });
    expect(pipeline.status).toBe(400);
    const v2 = await send({ apiVersion: 'eventops.dev/v2', kind: 'Event', type: 'split.hello' });
    expect(v2.status).toBe(400);
  });

  it('answers unsigned and oversized webhooks before their body, and 503 past the bodies in flight', async () => {
    // No signature: 401 while only the headers were sent.
    expect(await rawHead(githubHead(LIMITS.maxBodySize, false)).status).toBe(401);
    // Past one body's size: 413 from the declared length.
    expect(await rawHead(githubHead(LIMITS.maxBodySize + 1, true)).status).toBe(413);
    // Ten signed 1.5 MiB bodies, trickled: 4 MiB in flight hold two; the rest are refused at once.
    const crowd = Array.from({ length: 10 }, () => {
      const request = rawHead(githubHead(1.5 * MiB, true), Buffer.alloc(64 * 1024, 0x20));
      const trickle = setInterval(() => {
        if (!request.socket.destroyed) request.socket.write(Buffer.alloc(64 * 1024, 0x20));
      }, 200);
      void request.status.finally(() => clearInterval(trickle));
      return request.status;
    });
    const statuses = await Promise.all(crowd);
    expect(statuses.filter((s) => s === 503).length, JSON.stringify(statuses)).toBeGreaterThanOrEqual(6);
    for (const status of statuses) expect([503, 401, 408], JSON.stringify(statuses)).toContain(status);
    expect(rssOf(api.pid)).toBeLessThan(API_RSS_BOUND);
  });

  it('the worker files a backtracking glob and a costly expression as filtered, with the reason, and the api stays quick', async () => {
    const sent = await send({ type: 'split.match', body: { ref: '-'.repeat(800), l: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] } });
    expect(sent.status).toBe(202);
    const reads: number[] = [];
    const event = await until(
      'the event matched',
      async () => {
        const r = await call<{ status: string; verdicts?: { trigger: string; verdict: string; reason: string }[] }>(`/api/v1/events/${sent.body.eventId}`);
        reads.push(r.ms);
        return r.body;
      },
      (e) => e.status !== 'received' && (e.verdicts?.length ?? 0) >= 2,
    );
    const verdict = (name: string) => event.verdicts?.find((v) => v.trigger === name);
    expect(verdict('glob-bomb')).toMatchObject({ verdict: 'filtered', reason: expect.stringContaining('(glob)') });
    expect(verdict('costly')).toMatchObject({ verdict: 'filtered', reason: expect.stringContaining('limits.matching.expressionCost') });
    expect(Math.max(...reads)).toBeLessThan(1_000);
  });

  it('caps a 5 MB task log on the worker, pages it from the api, and caps followers per token', { timeout: 120_000 }, async () => {
    const sent = await send({ type: 'split.chatty', body: {} });
    expect(sent.status).toBe(202);
    const event = await until('a chatty run', () => call<{ runs: { id: string }[] }>(`/api/v1/events/${sent.body.eventId}`), (e) => (e.body.runs?.length ?? 0) > 0);
    const runId = (event.body.runs[0] as { id: string }).id;
    const run = await until('the chatty run ended', () => call<{ status: string }>(`/api/v1/runs/${runId}`), (r) => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(r.body.status), 90_000);
    expect(run.body.status).toBe('succeeded');
    let path = `/api/v1/runs/${runId}/logs`;
    const texts: string[] = [];
    for (let pages = 0; pages < 50; pages++) {
      const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const raw = await res.text();
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(LIMITS.page + 200);
      const page = JSON.parse(raw) as { lines: { text: string }[]; next: number; nextLine: number; more: boolean };
      texts.push(...page.lines.map((l) => l.text));
      if (!page.more) break;
      path = `/api/v1/runs/${runId}/logs?after=${page.next}&line=${page.nextLine}`;
    }
    expect(texts.some((t) => /truncated \d+ bytes/.test(t))).toBe(true);
    expect(texts).toContain('done printing');
    expect(texts.reduce((sum, t) => sum + Buffer.byteLength(t) + 48, 0)).toBeLessThanOrEqual(LIMITS.taskLog + 4096);

    // Followers of a running run: a read token may hold `perToken` of them; the next one is a 429.
    const reader = await call<{ token: string }>('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'split-reader', scopes: ['read'] }) });
    expect(reader.status, JSON.stringify(reader.body)).toBeLessThan(300);
    const slow = await send({ type: 'split.slow', body: {} });
    const slowEvent = await until('a slow run', () => call<{ runs: { id: string }[] }>(`/api/v1/events/${slow.body.eventId}`), (e) => (e.body.runs?.length ?? 0) > 0);
    const slowRun = (slowEvent.body.runs[0] as { id: string }).id;
    const controllers: AbortController[] = [];
    const statuses: number[] = [];
    try {
      for (let i = 0; i < LIMITS.perToken + 2; i++) {
        const controller = new AbortController();
        controllers.push(controller);
        const res = await fetch(`${api.url}/api/v1/runs/${slowRun}/logs?follow=1`, { headers: { authorization: `Bearer ${reader.body.token}` }, signal: controller.signal });
        statuses.push(res.status);
        if (res.status !== 200) await res.text();
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(LIMITS.perToken);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
      // Other calls still answer at once.
      expect((await call(`/api/v1/runs/${slowRun}`)).ms).toBeLessThan(1_000);
    } finally {
      for (const c of controllers) c.abort();
    }
    expect((await call(`/api/v1/runs/${slowRun}/cancel`, { method: 'POST' })).status).toBeLessThan(300);
  });

  it('lost nothing it accepted, still runs a plain event, and both processes answered /healthz within 1 s throughout', { timeout: 90_000 }, async () => {
    const hello = await send({ type: 'split.hello', body: {} });
    expect(hello.status).toBe(202);
    const event = await until('the hello run', () => call<{ runs: { id: string }[] }>(`/api/v1/events/${hello.body.eventId}`), (e) => (e.body.runs?.length ?? 0) > 0);
    const runId = (event.body.runs[0] as { id: string }).id;
    await until('the hello run succeeded', () => call<{ status: string }>(`/api/v1/runs/${runId}`), (r) => r.body.status === 'succeeded');
    for (const id of accepted) {
      const stored = await call<{ status: string }>(`/api/v1/events/${id}`);
      expect(stored.status, id).toBe(200);
      expect(stored.body.status, id).not.toBe('received');
    }
    const seen = { api: await health.api.stop(), worker: await health.worker.stop() };
    process.stdout.write(`hostile split: worst /healthz api ${seen.api.worstMs} ms, worker ${seen.worker.worstMs} ms; peak RSS api ${Math.round(seen.api.peakRss / MiB)} MiB, worker ${Math.round(seen.worker.peakRss / MiB)} MiB\n`);
    for (const [role, watched] of Object.entries(seen)) {
      expect(watched.failures, role).toEqual([]);
      expect(watched.worstMs, role).toBeLessThan(1_000);
      expect(watched.samples, role).toBeGreaterThan(10);
    }
    expect(seen.api.peakRss).toBeLessThan(API_RSS_BOUND);
  });
});
