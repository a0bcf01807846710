// Hostile task logs against a real `eventops serve` (the built CLI) with a folder source: a task
// printing 40 MB (the stored log is capped by limits.logs.taskLogSize, the task still succeeds,
// pages of the log stay within limits.logs.pageSize), and a read token opening more live
// followers than limits.logs.maxFollowersPerToken allows (429 beyond; other calls and /healthz
// answer within 1 s throughout). Memory of the server stays under a stated bound.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startHostileServer, watchHealth, type HostileServer } from './harness.js';

const TASK_LOG = 2 * 1024 * 1024;
const PAGE = 256 * 1024;
const PER_TOKEN = 5;
/** Growth of the server's resident memory while a task prints 40 MB and its log is read (holding the log would take more). */
const RSS_GROWTH_BOUND = 150 * 1024 * 1024;

const definitions: Record<string, string> = {
  'actuators/local.yaml': 'apiVersion: eventops.dev/v1\nkind: Actuator\nmetadata: { name: shell }\nspec:\n  tags: [local]\n  concurrency: 4\n  local: {}\n',
  // 40,000,000 bytes of 200-byte lines.
  'pipelines/chatty.yaml': `apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: chatty }\nspec:\n  tasks:\n    - { name: print, commands: [ "yes ${'y'.repeat(199)} | head -c 40000000", "echo done printing" ] }\n`,
  'triggers/chatty.yaml': 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: chatty }\nspec:\n  event: { source: api, type: hostile.chatty }\n  pipelines:\n    - name: chatty\n',
  'pipelines/slow.yaml': 'apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: slow }\nspec:\n  tasks:\n    - { name: wait, commands: [ "echo waiting", "sleep 60" ] }\n',
  'triggers/slow.yaml': 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: slow }\nspec:\n  event: { source: api, type: hostile.slow }\n  pipelines:\n    - name: slow\n',
};

let server: HostileServer;
let defsDir: string;
let database: TestDatabase;

beforeAll(async () => {
  defsDir = mkdtempSync(join(tmpdir(), 'eventops-hostile-logs-defs-'));
  for (const [name, text] of Object.entries(definitions)) {
    mkdirSync(join(defsDir, name, '..'), { recursive: true });
    writeFileSync(join(defsDir, name), text);
  }
  // PostgreSQL as a deployment runs it (the embedded database runs its queries on the server's own thread).
  database = await createTestDatabase();
  server = await startHostileServer({
    env: { DATABASE_URL: database.url },
    configYaml: [`sources: [ { name: hostile, path: ${defsDir} } ]`, `limits: { logs: { taskLogSize: ${TASK_LOG}, pageSize: ${PAGE}, maxFollowers: 50, maxFollowersPerToken: ${PER_TOKEN} } }`, ''].join('\n'),
  });
}, 90_000);
afterAll(async () => {
  await server?.close();
  await database?.drop();
  if (defsDir) rmSync(defsDir, { recursive: true, force: true });
});

async function api<T>(path: string, init: RequestInit = {}, token = server.token): Promise<{ status: number; body: T; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const body = (await res.json()) as T;
  return { status: res.status, body, ms: performance.now() - started };
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1000)}\n--- server output ---\n${server.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until the folder source's definitions are in. */
async function sourceReady(): Promise<void> {
  await until('the source is ready', () => api<{ items: { name: string; ready: string }[] }>('/api/v1/sources'), (r) => r.status === 200 && r.body.items.some((s) => s.name === 'hostile' && s.ready === 'True'), 60_000);
}

/** Sends an event and waits for the one run it starts. */
async function startRun(type: string): Promise<string> {
  const sent = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type, body: {} }) });
  expect(sent.status, JSON.stringify(sent.body)).toBeLessThan(300);
  const event = await until(`event ${type} matched`, () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${sent.body.eventId}`), (e) => e.body.runs?.length > 0, 60_000);
  return event.body.runs[0]!.id;
}

interface Page {
  lines: { task: string; text: string }[];
  next: number;
  nextLine: number;
  more: boolean;
}

describe('hostile task logs', () => {
  it('caps a 40 MB task log, pages it within the page size, and the task succeeds; memory and /healthz stay bounded', async () => {
    // Watched from once the server is up and its source reconciled: this test is about the task's log.
    await sourceReady();
    const before = server.rss();
    const health = watchHealth(server.url, { pid: server.pid });
    const runId = await startRun('hostile.chatty');
    const run = await until('the chatty run ended', () => api<{ status: string; tasks: { status: string }[] }>(`/api/v1/runs/${runId}`), (r) => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(r.body.status), 240_000);
    expect(run.body.status).toBe('succeeded');
    const running = await health.stop();
    const paging = watchHealth(server.url, { pid: server.pid });

    let path = `/api/v1/runs/${runId}/logs`;
    const texts: string[] = [];
    let pages = 0;
    for (;;) {
      const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` } });
      const raw = await res.text();
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(PAGE + 200);
      const page = JSON.parse(raw) as Page;
      texts.push(...page.lines.map((l) => l.text));
      pages++;
      expect(pages).toBeLessThan(100);
      if (!page.more) break;
      path = `/api/v1/runs/${runId}/logs?after=${page.next}&line=${page.nextLine}`;
    }
    const stored = texts.reduce((sum, text) => sum + Buffer.byteLength(text) + 48, 0);
    expect(stored).toBeLessThanOrEqual(TASK_LOG + 4096);
    const marker = texts.find((t) => /truncated \d+ bytes/.test(t));
    expect(marker, 'the truncated line').toBeDefined();
    expect(Number(/truncated (\d+) bytes/.exec(marker ?? '')?.[1])).toBeGreaterThan(35_000_000);
    expect(texts[0]).toMatch(/^attempt 1/);
    expect(texts).toContain('done printing');
    expect(texts.at(-1)).toMatch(/^succeeded/);
    expect(pages).toBeGreaterThan(TASK_LOG / PAGE - 1);

    const read = await paging.stop();
    const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
    process.stdout.write(
      `hostile logs: RSS before ${mib(before)} MiB, peak while the task ran ${mib(running.peakRss)} MiB, while paging ${mib(read.peakRss)} MiB; worst /healthz ${running.worstMs} ms (task), ${read.worstMs} ms (paging); ${pages} pages\n`,
    );
    for (const watched of [running, read]) {
      expect(watched.failures).toEqual([]);
      expect(watched.worstMs).toBeLessThan(1000);
      expect(watched.peakRss).toBeGreaterThan(0);
      expect(watched.peakRss - before).toBeLessThan(RSS_GROWTH_BOUND);
    }
  }, 300_000);

  it('answers 429 to followers beyond the per-token cap, while other calls and /healthz answer within 1 s', async () => {
    const made = await api<{ token: string }>('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'reader', scopes: ['read'] }) });
    expect(made.status).toBe(201);
    const reader = made.body.token;
    const runId = await startRun('hostile.slow');
    const health = watchHealth(server.url, { pid: server.pid });
    const aborts: AbortController[] = [];
    const statuses: number[] = [];
    const bodies: Promise<string>[] = [];
    try {
      for (let i = 0; i < PER_TOKEN * 4; i++) {
        const abort = new AbortController();
        aborts.push(abort);
        const res = await fetch(`${server.url}/api/v1/runs/${runId}/logs?follow=1`, { headers: { authorization: `Bearer ${reader}` }, signal: abort.signal });
        statuses.push(res.status);
        if (res.status === 429) {
          const body = (await res.json()) as { error: { code: string; message: string } };
          expect(body.error.message).toMatch(/maxFollowersPerToken/);
        } else bodies.push(res.text().catch(() => ''));
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(PER_TOKEN);
      expect(statuses.filter((s) => s === 429)).toHaveLength(PER_TOKEN * 3);
      // Other calls, with the same token too, still answer at once.
      for (const path of ['/api/v1/runs', `/api/v1/runs/${runId}`, `/api/v1/runs/${runId}/logs`]) {
        const res = await api(path, {}, reader);
        expect(res.status).toBe(200);
        expect(res.ms).toBeLessThan(1000);
      }
      // Ending the run ends the followers, and their slots are free again.
      expect((await api(`/api/v1/runs/${runId}/cancel`, { method: 'POST' })).status).toBe(202);
      const texts = await Promise.all(bodies);
      for (const text of texts) expect(text).toContain('event: end');
      const again = await fetch(`${server.url}/api/v1/runs/${runId}/logs?follow=1`, { headers: { authorization: `Bearer ${reader}` } });
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('waiting');
    } finally {
      for (const abort of aborts) abort.abort();
    }
    const watched = await health.stop();
    expect(watched.failures).toEqual([]);
    expect(watched.worstMs).toBeLessThan(1000);
    expect((await api('/api/v1/runs', {}, reader)).status).toBe(200);
  }, 180_000);
});
