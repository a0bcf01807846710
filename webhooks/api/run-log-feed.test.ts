// Many followers of one run's log over real HTTP and PostgreSQL: they share one feed (the queries
// the app sends while they wait do not grow with their number; counted at the app's own pool),
// each gets every line and the end, and followers beyond limits.logs.maxFollowers (total) or
// maxFollowersPerToken answer 429 with a message, while other API calls still answer.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, logChunks, openDatabase, runs, type Database, type Db } from '../../schemas/database/index.js';
import { RecordingReconciler, seedSources } from '../../test/helpers/api-fixture.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { DEFAULT_LIMITS } from '../../config/index.js';
import { createApp, createToken, startHttpServer, type HttpServer } from '../index.js';
import type { ErrorBody } from '../index.js';

/** A real pool that counts the queries sent through it (drizzle sends every query outside a transaction with pool.query). */
function countingPool(url: string): pg.Pool & { queries: number } {
  const pool = Object.assign(new pg.Pool({ connectionString: url, max: 10 }), { queries: 0 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    pool.queries++;
    return query(...args);
  }) as typeof pool.query;
  return pool;
}

let test: TestDatabase;
let database: Database;
let pool: ReturnType<typeof countingPool>;
let server: HttpServer;
let dataDir: string;
const tokens: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
const POLL_MS = 50;

beforeAll(async () => {
  test = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'eventops-log-feed-'));
  database = await openDatabase({ url: test.url, dataDir });
  const { active } = await seedSources(database.db);
  const eventId = randomUUID();
  await database.db.insert(events).values({ id: eventId, source: 'api', type: 'test', status: 'matched' });
  await database.db.insert(runs).values({ id: 'run-f', source: 'ops', trigger: 'on-deploy', pipeline: 'build', pipelineIndex: 0, revisionId: active, eventId, status: 'running' });
  for (const name of ['a', 'b', 'c'] as const) tokens[name] = await createToken(database.db, { name: `reader-${name}`, scopes: ['read'] });
  pool = countingPool(test.url);
  const db = drizzle(pool) as unknown as Db;
  const engine = { stopRun: () => Promise.reject(new Error('not used')), decideApproval: () => Promise.reject(new Error('not used')) };
  const app = createApp({ db, reconciler: new RecordingReconciler(), version: '0.0.0-test', runs: { engine, follow: { pollMs: POLL_MS } }, limits: { ...DEFAULT_LIMITS, logs: { ...DEFAULT_LIMITS.logs, pageBytes: 1024 * 1024, maxFollowers: 12, maxFollowersPerToken: 5 } } });
  server = await startHttpServer(app, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server?.close();
  await pool?.end();
  await database?.close();
  await test?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Follower {
  status: number;
  text: () => string;
  abort: AbortController;
  body: Promise<void>;
}

async function follow(token: string): Promise<Follower> {
  const abort = new AbortController();
  const res = await fetch(`${server.url}/api/v1/runs/run-f/logs?follow=1`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  let text = '';
  const body = (async () => {
    if (!res.body) return;
    try {
      for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) text += chunk;
    } catch {
      // Aborted by the test.
    }
  })();
  return { status: res.status, text: () => text, abort, body };
}

async function until(what: string, test: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('following a log', () => {
  it('serves every follower of a run from one feed, caps followers per token and in total with a 429', async () => {
    const followers: Follower[] = [];
    for (let i = 0; i < 5; i++) followers.push(await follow(tokens.a));
    const overToken = await fetch(`${server.url}/api/v1/runs/run-f/logs?follow=1`, { headers: { authorization: `Bearer ${tokens.a}` } });
    expect(overToken.status).toBe(429);
    expect(((await overToken.json()) as ErrorBody).error.message).toMatch(/reader-a.*follows 5 logs already.*maxFollowersPerToken/);
    for (let i = 0; i < 5; i++) followers.push(await follow(tokens.b));
    for (let i = 0; i < 2; i++) followers.push(await follow(tokens.c));
    expect(followers.map((f) => f.status)).toEqual(Array(12).fill(200));
    const overTotal = await fetch(`${server.url}/api/v1/runs/run-f/logs?follow=1`, { headers: { authorization: `Bearer ${tokens.c}` } });
    expect(overTotal.status).toBe(429);
    expect(((await overTotal.json()) as ErrorBody).error.message).toMatch(/12 logs are being followed.*maxFollowers/);

    // While 12 follow a quiet run, the app's queries per poll interval stay those of one feed
    // (state and chunks: 3 queries a poll); 12 followers polling on their own would send 36.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = pool.queries;
    const window = 1000;
    await new Promise((resolve) => setTimeout(resolve, window));
    const perPoll = (pool.queries - before) / (window / POLL_MS);
    process.stdout.write(`log feed: ${perPoll} queries per poll interval with 12 followers\n`);
    expect(perPoll).toBeLessThan(6);

    // Other calls answer while they follow.
    const started = Date.now();
    const list = await fetch(`${server.url}/api/v1/runs`, { headers: { authorization: `Bearer ${tokens.c}` } });
    expect(list.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);

    // Lines reach every follower, and the end once the run is over.
    await database.db.insert(logChunks).values({ runId: 'run-f', task: 'build', attempt: 1, lines: [{ at: Date.now(), stream: 'stdout', text: 'hello followers' }] });
    await until('every follower got the line', () => followers.every((f) => f.text().includes('hello followers')));
    await database.db.update(runs).set({ status: 'succeeded', finishedAt: new Date() }).where(eq(runs.id, 'run-f'));
    await until('every follower got the end', () => followers.every((f) => f.text().includes('event: end')));
    await Promise.all(followers.map((f) => f.body));

    // Their slots are free again, and the feed has stopped: no more polling.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const idle = pool.queries;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pool.queries).toBe(idle);
    const again = await follow(tokens.a);
    expect(again.status).toBe(200);
    await again.body;
    expect(again.text()).toContain('hello followers');
    expect(again.text()).toContain('event: end');
  });
});
