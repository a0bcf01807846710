// The runs API as a client sees it: a real server on a free port over a real PostgreSQL database
// seeded with runs, tasks and log chunks, called with fetch. Cancel and approvals go to a
// recording stand-in of our own run-engine interface (the engine's own tests cover its
// transitions): it changes the rows as the engine would, throws the engine's RunStateError, and
// remembers the calls. Following a log is real: chunks inserted while a client follows arrive.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The class itself, from its file: the routes must recognise the engine's real error.
import { RunStateError } from '../../queue/runs/run-engine.js';
import { definitions, events, logChunks, openDatabase, runs, taskRuns, type Database, type Db, type RunRow, type TaskRunRow } from '../../schemas/database/index.js';
import { COMMITS, RecordingReconciler, seedSources, type SeededIds } from '../../test/helpers/api-fixture.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createApp, createToken, startHttpServer, type HttpServer } from '../index.js';
import type { DecisionAnswer, ErrorBody, LogEnd, LogLineItem, LogPage, RunDetail, RunPage, RunSummary } from '../index.js';
import type { RunsEngine } from './runs-routes.js';

const EVENT_1 = '0b8f3c1e-6a1d-4f7e-9c2b-5d4e3f2a1b01';
const EVENT_2 = '0b8f3c1e-6a1d-4f7e-9c2b-5d4e3f2a1b02';
const FINISHED = ['succeeded', 'failed', 'cancelled', 'timed_out'];

/** Records what it is asked and changes the rows as the run engine would (without running anything). */
class RecordingEngine implements RunsEngine {
  readonly calls: unknown[][] = [];
  constructor(private readonly db: Db) {}

  async stopRun(runId: string, stop: 'cancelled' | 'timed_out', why?: string): Promise<RunRow> {
    this.calls.push(['stopRun', runId, stop, why]);
    const [run] = await this.db.select().from(runs).where(eq(runs.id, runId));
    if (!run) throw new RunStateError(`run ${runId} does not exist`, 404);
    if (FINISHED.includes(run.status)) return run;
    const values = run.status === 'pending' ? { status: stop, stopRequested: stop, error: why ?? null, finishedAt: new Date() } : { stopRequested: stop, error: why ?? null };
    const [row] = await this.db.update(runs).set(values).where(eq(runs.id, runId)).returning();
    return row as RunRow;
  }

  async decideApproval(runId: string, task: string, decision: 'approve' | 'reject', by: string, comment?: string): Promise<TaskRunRow> {
    this.calls.push(['decideApproval', runId, task, decision, by, comment]);
    const [row] = await this.db.select().from(taskRuns).where(and(eq(taskRuns.runId, runId), eq(taskRuns.name, task)));
    if (!row) throw new RunStateError(`run ${runId} has no task ${task}`, 404);
    if (row.status !== 'waiting_approval') throw new RunStateError(`task ${task} of run ${runId} is ${row.status}, not waiting for an approval`, 409);
    const [updated] = await this.db
      .update(taskRuns)
      .set({ status: decision === 'approve' ? 'succeeded' : 'failed', decision, decidedBy: by, outputs: { [decision === 'approve' ? 'approvedBy' : 'rejectedBy']: by, comment: comment ?? '' }, finishedAt: new Date() })
      .where(and(eq(taskRuns.runId, runId), eq(taskRuns.name, task)))
      .returning();
    return updated as TaskRunRow;
  }
}

const at = (iso: string) => new Date(iso);
/** A trigger fires once per event and pipeline entry: each seeded run gets its own entry. */
let entries = 0;
const entry = () => entries++;
/** A time with microseconds, which a Date cannot hold. */
const micro = (text: string) => sql`${text}::timestamptz` as unknown as Date;

/**
 * Eleven runs: two pairs created in the same millisecond (microseconds apart) or the same
 * microsecond (told apart by id), a running one with every kind of task and a child run, and logs.
 */
async function seedRuns(db: Db, ids: SeededIds): Promise<void> {
  await db.insert(events).values([
    { id: EVENT_1, source: 'github', type: 'push', status: 'matched' },
    { id: EVENT_2, source: 'api', type: 'deploy.requested', status: 'matched' },
  ]);
  const run = (id: string, values: Partial<typeof runs.$inferInsert>): typeof runs.$inferInsert => ({
    id,
    source: 'ops',
    trigger: 'on-push',
    pipeline: 'build',
    pipelineIndex: entry(),
    revisionId: ids.active,
    eventId: EVENT_1,
    ...values,
  });
  await db.insert(runs).values([
    run('run-a', { status: 'succeeded', createdAt: at('2025-05-01T10:00:00Z'), startedAt: at('2025-05-01T10:00:01Z'), finishedAt: at('2025-05-01T10:00:31Z') }),
    run('run-b', { pipeline: 'deploy', status: 'failed', error: 'task ship failed: exit code 3', createdAt: at('2025-05-01T10:01:00Z'), startedAt: at('2025-05-01T10:01:00Z'), finishedAt: at('2025-05-01T10:01:02.500Z') }),
    run('run-c', {
      pipeline: 'deploy',
      trigger: 'on-deploy',
      source: 'local',
      revisionId: ids.local,
      eventId: EVENT_2,
      status: 'running',
      inputs: { env: 'staging' },
      contexts: { version: 'v1' },
      concurrencyGroup: 'local/staging',
      createdAt: at('2025-05-01T10:02:00Z'),
      startedAt: at('2025-05-01T10:02:01Z'),
    }),
    run('run-c-child', { pipeline: 'notify', source: 'local', trigger: 'on-deploy', revisionId: ids.local, eventId: EVENT_2, parentRunId: 'run-c', parentTask: 'notify', status: 'pending', createdAt: at('2025-05-01T10:02:30Z') }),
    run('run-d', { status: 'pending', createdAt: at('2025-05-01T10:03:00Z') }),
    run('run-e', { status: 'cancelled', stopRequested: 'cancelled', createdAt: micro('2025-05-01T10:04:00.000900Z'), finishedAt: at('2025-05-01T10:04:10Z') }),
    run('run-f', { status: 'timed_out', stopRequested: 'timed_out', createdAt: micro('2025-05-01T10:04:00.000100Z') }),
    run('run-g', { status: 'succeeded', createdAt: micro('2025-05-01T10:05:00.000500Z') }),
    run('run-h', { status: 'succeeded', createdAt: micro('2025-05-01T10:05:00.000500Z') }),
    run('run-i', { status: 'running', pipeline: 'gated', createdAt: at('2025-05-01T10:06:00Z'), startedAt: at('2025-05-01T10:06:00Z') }),
    run('run-j', { status: 'running', pipeline: 'gated', createdAt: at('2025-05-01T10:07:00Z'), startedAt: at('2025-05-01T10:07:00Z') }),
  ]);
  const task = (runId: string, name: string, position: number, values: Partial<typeof taskRuns.$inferInsert>): typeof taskRuns.$inferInsert => ({ runId, name, position, phase: 'tasks', type: 'local', ...values });
  await db.insert(taskRuns).values([
    // Inserted out of order: the detail lists them by position.
    task('run-c', 'cleanup', 3, { phase: 'finally', status: 'pending' }),
    task('run-c', 'notify', 2, { type: 'pipeline', status: 'running', attempt: 1, childRunId: 'run-c-child', startedAt: at('2025-05-01T10:02:30Z') }),
    task('run-c', 'build', 0, {
      status: 'succeeded',
      attempt: 2,
      actuator: 'local/here',
      exitCode: 0,
      outputs: { version: 'v1' },
      attempts: [{ attempt: 1, status: 'failed', exitCode: 1, error: 'exit code 1', actuator: 'local/here', startedAt: '2025-05-01T10:02:01.000Z', finishedAt: '2025-05-01T10:02:05.000Z' }],
      startedAt: at('2025-05-01T10:02:06Z'),
      finishedAt: at('2025-05-01T10:02:16.250Z'),
    }),
    task('run-c', 'approve', 1, { type: 'approval', status: 'waiting_approval', startedAt: at('2025-05-01T10:02:16Z') }),
    task('run-i', 'gate', 0, { type: 'approval', status: 'waiting_approval' }),
    task('run-j', 'gate', 0, { type: 'approval', status: 'waiting_approval' }),
  ]);
  // run-c's pipeline at its revision: its tasks' `needs` are the edges of the DAG the API shows.
  await db.insert(definitions).values({
    source: 'local',
    kind: 'Pipeline',
    name: 'deploy',
    file: 'pipelines/deploy.yaml',
    line: 1,
    column: 1,
    metadata: { name: 'deploy' },
    spec: { tasks: [{ name: 'build' }, { name: 'approve', needs: ['build'] }, { name: 'notify', needs: ['build', 'approve'] }], finally: [{ name: 'cleanup' }] },
    contentHash: 'local/Pipeline/deploy',
    addedRevisionId: ids.local,
  });
  const line = (ms: number, stream: string, text: string) => ({ at: Date.parse('2025-05-01T10:02:00Z') + ms, stream, text });
  await db.insert(logChunks).values([
    { runId: 'run-c', task: 'build', attempt: 1, lines: [line(1000, 'system', 'attempt 1 on local/here'), line(4000, 'stderr', 'make: *** [all] Error 1')] },
    { runId: 'run-c', task: 'build', attempt: 2, lines: [line(6000, 'stdout', 'compiling'), line(16_000, 'stdout', 'done v1')] },
    { runId: 'run-a', task: 'other', attempt: 1, lines: [line(0, 'stdout', 'another run')] },
    { runId: 'run-c', task: 'approve', attempt: 0, lines: [line(16_000, 'system', 'waiting for an approval')] },
  ]);
}

interface Fixture {
  url: string;
  /** Of the test database, for a second connection. */
  databaseUrl: string;
  database: Database;
  ids: SeededIds;
  engine: RecordingEngine;
  tokens: { admin: string; read: string; runs: string; events: string };
  close(): Promise<void>;
}

async function startFixture(): Promise<Fixture> {
  const test: TestDatabase = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'eventops-runs-api-'));
  const database = await openDatabase({ url: test.url, dataDir });
  const ids = await seedSources(database.db);
  await seedRuns(database.db, ids);
  const tokens = {
    admin: await createToken(database.db, { name: 'admin', scopes: ['admin'] }),
    read: await createToken(database.db, { name: 'reader', scopes: ['read'] }),
    runs: await createToken(database.db, { name: 'operator', scopes: ['runs:write'] }),
    events: await createToken(database.db, { name: 'ci', scopes: ['events:write'] }),
  };
  const engine = new RecordingEngine(database.db);
  const app = createApp({ db: database.db, reconciler: new RecordingReconciler(), version: '0.0.0-test', runs: { engine, follow: { pollMs: 40, heartbeatMs: 300 } } });
  const server: HttpServer = await startHttpServer(app, { port: 0, host: '127.0.0.1' });
  return {
    url: server.url,
    databaseUrl: test.url,
    database,
    ids,
    engine,
    tokens,
    async close() {
      await server.close();
      await database.close();
      await test.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f?.close();
});

async function call<T>(path: string, init: RequestInit = {}, token: string | null = f.tokens.read): Promise<{ status: number; body: T }> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  // A GET may meet a kept-alive connection the server closed while the machine was busy: once more.
  const send = () => fetch(`${f.url}${path}`, { ...init, headers });
  const res = await send().catch((error: unknown) => {
    if ((init.method ?? 'GET') === 'GET' && (error as { cause?: { code?: string } }).cause?.code === 'ECONNRESET') return send();
    throw error;
  });
  return { status: res.status, body: (await res.json()) as T };
}

const ids = (page: RunPage) => page.runs.map((r) => r.id);

describe('on the embedded PGlite', () => {
  // First: the tests below change the rows on PostgreSQL.
  it('answers the read routes exactly as on PostgreSQL, cursors included', async () => {
    const first = (await call<RunPage>('/api/v1/runs?limit=4')).body;
    const paths = [
      '/api/v1/runs',
      '/api/v1/runs?limit=4',
      `/api/v1/runs?limit=4&cursor=${first.nextCursor}`,
      '/api/v1/runs?status=succeeded,failed&since=2025-05-01T10:00:30Z',
      '/api/v1/runs/run-c',
      '/api/v1/runs/run-c/logs?task=build',
      '/api/v1/runs/nope',
    ];
    const onPostgres = await Promise.all(paths.map(async (path) => call<unknown>(path)));
    const pglite = await openDatabase({ dataDir: '', inMemory: true });
    try {
      await seedRuns(pglite.db, await seedSources(pglite.db));
      const token = await createToken(pglite.db, { name: 'reader', scopes: ['read'] });
      const app = createApp({ db: pglite.db, reconciler: new RecordingReconciler(), version: 'x', runs: { engine: new RecordingEngine(pglite.db) } });
      for (const [i, path] of paths.entries()) {
        const local = await app.request(path, { headers: { authorization: `Bearer ${token}` } });
        expect(local.status, path).toBe(onPostgres[i]?.status);
        expect(await local.json(), path).toEqual(onPostgres[i]?.body);
      }
    } finally {
      await pglite.close();
    }
  });
});

describe('GET /api/v1/runs', () => {
  it('lists every run newest first, runs of the same time by id, with the summary fields', async () => {
    const { status, body } = await call<RunPage>('/api/v1/runs');
    expect(status).toBe(200);
    expect(ids(body)).toEqual(['run-j', 'run-i', 'run-h', 'run-g', 'run-e', 'run-f', 'run-d', 'run-c-child', 'run-c', 'run-b', 'run-a']);
    expect(body.nextCursor).toBeUndefined();
    const b = body.runs.find((r) => r.id === 'run-b');
    expect(b).toEqual({
      id: 'run-b',
      source: 'ops',
      trigger: 'on-push',
      pipeline: 'deploy',
      eventId: EVENT_1,
      status: 'failed',
      revisionId: f.ids.active,
      parentRunId: null,
      parentTask: null,
      error: 'task ship failed: exit code 3',
      createdAt: '2025-05-01T10:01:00.000Z',
      startedAt: '2025-05-01T10:01:00.000Z',
      finishedAt: '2025-05-01T10:01:02.500Z',
      durationMs: 2500,
    } satisfies RunSummary);
    expect(body.runs.find((r) => r.id === 'run-d')).toMatchObject({ status: 'pending', startedAt: null, durationMs: null });
    expect(body.runs[0]).not.toHaveProperty('inputs');
  });

  it('pages with an opaque cursor without skipping or repeating runs created in the same millisecond', async () => {
    const all = ids((await call<RunPage>('/api/v1/runs')).body);
    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const { status, body } = await call<RunPage>(`/api/v1/runs?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(status).toBe(200);
        expect(body.runs.length).toBeLessThanOrEqual(limit);
        seen.push(...ids(body));
        cursor = body.nextCursor;
        pages++;
      } while (cursor);
      expect(seen, `limit ${limit}`).toEqual(all);
      expect(pages).toBe(Math.ceil(all.length / limit));
    }
  });

  it('keeps the filters across pages', async () => {
    const first = await call<RunPage>('/api/v1/runs?status=succeeded&limit=2');
    expect(ids(first.body)).toEqual(['run-h', 'run-g']);
    const second = await call<RunPage>(`/api/v1/runs?status=succeeded&limit=2&cursor=${first.body.nextCursor}`);
    expect(ids(second.body)).toEqual(['run-a']);
    expect(second.body.nextCursor).toBeUndefined();
  });

  it('filters by pipeline, status list, trigger, source, event, parent and time', async () => {
    const list = async (query: string) => ids((await call<RunPage>(`/api/v1/runs?${query}`)).body);
    expect(await list('pipeline=deploy')).toEqual(['run-c', 'run-b']);
    expect(await list('status=failed,cancelled,timed_out')).toEqual(['run-e', 'run-f', 'run-b']);
    expect(await list('status=running&pipeline=gated')).toEqual(['run-j', 'run-i']);
    expect(await list('trigger=on-deploy')).toEqual(['run-c-child', 'run-c']);
    expect(await list('source=local')).toEqual(['run-c-child', 'run-c']);
    expect(await list(`event=${EVENT_2}`)).toEqual(['run-c-child', 'run-c']);
    expect(await list('parent=run-c')).toEqual(['run-c-child']);
    expect(await list('since=2025-05-01T10:01:00Z&until=2025-05-01T10:03:00Z')).toEqual(['run-c-child', 'run-c', 'run-b']);
    expect(await list('pipeline=nothing')).toEqual([]);
  });

  it('answers 400 naming what is wrong with a filter, a limit or a cursor', async () => {
    const bad = async (query: string) => {
      const { status, body } = await call<ErrorBody>(`/api/v1/runs?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code).toBe('BadRequest');
      return body.error.message;
    };
    expect(await bad('status=done,failed')).toBe('unknown status "done": use one or more of pending, running, succeeded, failed, cancelled, timed_out, comma-separated');
    expect(await bad('limit=0')).toBe('limit must be a whole number from 1 to 500 (got "0")');
    expect(await bad('limit=501')).toMatch(/^limit must be a whole number from 1 to 500/);
    expect(await bad('limit=ten')).toMatch(/^limit must be a whole number/);
    expect(await bad('since=yesterday')).toBe('since must be an ISO 8601 time like 2025-05-01T10:00:00Z (got "yesterday")');
    expect(await bad('until=2025-13-01')).toMatch(/^until must be an ISO 8601 time/);
    expect(await bad('cursor=not-a-cursor')).toMatch(/^cursor is not one this server gave out/);
    // Well-formed base64url JSON, but a date PostgreSQL would refuse: still a 400, not a 500.
    expect(await bad(`cursor=${Buffer.from(JSON.stringify(['2025-02-31T00:00:00.000000Z', 'x'])).toString('base64url')}`)).toMatch(/^cursor is not/);
  });
});

describe('GET /api/v1/runs/:id', () => {
  it('shows the run with inputs, contexts, its revision, its tasks in pipeline order and its child runs', async () => {
    const { status, body } = await call<RunDetail>('/api/v1/runs/run-c');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: 'run-c',
      pipeline: 'deploy',
      status: 'running',
      revisionId: f.ids.local,
      revision: COMMITS.local,
      inputs: { env: 'staging' },
      contexts: { version: 'v1' },
      outputs: {},
      concurrencyGroup: 'local/staging',
      stopRequested: null,
      deadlineAt: null,
      durationMs: null,
      children: [{ id: 'run-c-child', parentTask: 'notify', pipeline: 'notify', status: 'pending' }],
    });
    expect(body.tasks.map((t) => [t.name, t.phase, t.type, t.status, t.needs])).toEqual([
      ['build', 'tasks', 'local', 'succeeded', []],
      ['approve', 'tasks', 'approval', 'waiting_approval', ['build']],
      ['notify', 'tasks', 'pipeline', 'running', ['build', 'approve']],
      ['cleanup', 'finally', 'local', 'pending', []],
    ]);
    expect(body.tasks[0]).toEqual({
      name: 'build',
      phase: 'tasks',
      needs: [],
      type: 'local',
      status: 'succeeded',
      attempt: 2,
      actuator: 'local/here',
      exitCode: 0,
      outputs: { version: 'v1' },
      error: null,
      skipReason: null,
      childRunId: null,
      decision: null,
      decidedBy: null,
      attempts: [{ attempt: 1, status: 'failed', exitCode: 1, error: 'exit code 1', actuator: 'local/here', startedAt: '2025-05-01T10:02:01.000Z', finishedAt: '2025-05-01T10:02:05.000Z' }],
      startedAt: '2025-05-01T10:02:06.000Z',
      finishedAt: '2025-05-01T10:02:16.250Z',
      durationMs: 10_250,
    });
    expect(body.tasks[2]).toMatchObject({ childRunId: 'run-c-child' });
  });

  it('shows a child run with its parent, and a pending run with no tasks yet', async () => {
    expect((await call<RunDetail>('/api/v1/runs/run-c-child')).body).toMatchObject({ parentRunId: 'run-c', parentTask: 'notify', tasks: [], children: [] });
    expect((await call<RunDetail>('/api/v1/runs/run-d')).body).toMatchObject({ status: 'pending', tasks: [], revision: COMMITS.active });
  });

  it('answers 404 NotFound for an unknown run', async () => {
    const { status, body } = await call<ErrorBody>('/api/v1/runs/nope');
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'NotFound', message: 'no run with id "nope"' } });
  });
});

describe('GET /api/v1/runs/:id/logs', () => {
  const text = (page: LogPage) => page.lines.map((l) => `${l.task}#${l.attempt} ${l.stream}: ${l.text}`);

  it('answers every task\'s lines in the order they were written, with ISO times, and the last chunk id', async () => {
    const { status, body } = await call<LogPage>('/api/v1/runs/run-c/logs');
    expect(status).toBe(200);
    expect(text(body)).toEqual(['build#1 system: attempt 1 on local/here', 'build#1 stderr: make: *** [all] Error 1', 'build#2 stdout: compiling', 'build#2 stdout: done v1', 'approve#0 system: waiting for an approval']);
    expect(body.lines[0]).toEqual({ task: 'build', attempt: 1, at: '2025-05-01T10:02:01.000Z', stream: 'system', text: 'attempt 1 on local/here' } satisfies LogLineItem);
    expect(body.more).toBe(false);
    // Reading on from `next` gives nothing new.
    expect((await call<LogPage>(`/api/v1/runs/run-c/logs?after=${body.next}`)).body).toEqual({ lines: [], next: body.next, nextLine: 0, more: false });
  });

  it('filters by task and attempt, and reads on after a chunk id', async () => {
    expect(text((await call<LogPage>('/api/v1/runs/run-c/logs?task=build&attempt=2')).body)).toEqual(['build#2 stdout: compiling', 'build#2 stdout: done v1']);
    const first = (await call<LogPage>('/api/v1/runs/run-c/logs?task=build&attempt=1')).body;
    expect(text((await call<LogPage>(`/api/v1/runs/run-c/logs?after=${first.next}`)).body)).toEqual(['build#2 stdout: compiling', 'build#2 stdout: done v1', 'approve#0 system: waiting for an approval']);
    expect((await call<LogPage>('/api/v1/runs/run-d/logs')).body).toEqual({ lines: [], next: 0, nextLine: 0, more: false });
  });

  it('pages a large log by bytes (at most 1 MiB a page, a huge chunk split between pages), in order, whole', async () => {
    const line = (i: number) => ({ at: 0, stream: 'stdout', text: `${String(i).padStart(6, '0')} ${'x'.repeat(60 * 1024)}` });
    // 60 small chunks, then one chunk of 60 lines (3.6 MiB) as an older writer stored them, then more small ones.
    let i = 0;
    const small = (n: number) => Array.from({ length: n }, () => ({ runId: 'run-g', task: 'spam', attempt: 1, lines: [line(i++)] }));
    await f.database.db.insert(logChunks).values(small(60));
    await f.database.db.insert(logChunks).values({ runId: 'run-g', task: 'spam', attempt: 1, lines: Array.from({ length: 60 }, () => line(i++)) });
    await f.database.db.insert(logChunks).values(small(30));
    const seen: string[] = [];
    let path = '/api/v1/runs/run-g/logs';
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(40);
      const res = await fetch(`${f.url}${path}`, { headers: { authorization: `Bearer ${f.tokens.read}` } });
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024 * 1024 + 200);
      const page = JSON.parse(text) as LogPage;
      expect(page.lines.length).toBeGreaterThan(0);
      seen.push(...page.lines.map((l) => l.text.slice(0, 6)));
      if (!page.more) break;
      path = `/api/v1/runs/run-g/logs?after=${page.next}&line=${page.nextLine}`;
    }
    expect(seen).toEqual(Array.from({ length: i }, (_, n) => String(n).padStart(6, '0')));
  });

  it('answers 404 for an unknown run or a task the run does not have, 400 for bad numbers', async () => {
    expect((await call<ErrorBody>('/api/v1/runs/nope/logs')).status).toBe(404);
    const task = await call<ErrorBody>('/api/v1/runs/run-c/logs?task=biuld');
    expect(task.status).toBe(404);
    expect(task.body.error.message).toBe('run run-c has no task "biuld"; its tasks are build, approve, notify, cleanup');
    expect((await call<ErrorBody>('/api/v1/runs/run-c/logs?attempt=0')).status).toBe(400);
    expect((await call<ErrorBody>('/api/v1/runs/run-c/logs?after=-1')).status).toBe(400);
    expect((await call<ErrorBody>('/api/v1/runs/run-c/logs?follow=yes')).status).toBe(400);
  });
});

/** The events and comments of a server-sent event stream, as they arrive. */
class EventReader {
  readonly events: { event: string; data: string; id?: string }[] = [];
  readonly comments: string[] = [];
  closed = false;
  private buffer = '';
  private waiters: (() => void)[] = [];

  constructor(res: Response) {
    void this.pump(res);
  }

  private async pump(res: Response): Promise<void> {
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.buffer += value;
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          const fields = block.split('\n');
          if (fields.every((l) => l.startsWith(':'))) this.comments.push(...fields);
          else {
            const get = (name: string) => fields.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
            this.events.push({ event: get('event') ?? 'message', data: fields.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'), ...(get('id') ? { id: get('id') } : {}) });
          }
        }
        this.wake();
      }
    } catch {
      // Aborted by the test.
    }
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `test` holds, failing after `ms`. */
  async until(what: string, test: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events so far: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  texts(): string[] {
    return this.events.filter((e) => e.event === 'line').map((e) => (JSON.parse(e.data) as LogLineItem).text);
  }
}

async function follow(path: string, controller = new AbortController()): Promise<{ res: Response; reader: EventReader; stop: () => void }> {
  const res = await fetch(`${f.url}${path}`, { headers: { authorization: `Bearer ${f.tokens.read}` }, signal: controller.signal });
  return { res, reader: new EventReader(res), stop: () => controller.abort() };
}

describe('GET /api/v1/runs/:id/logs?follow=1', () => {
  const newRun = async (id: string) => {
    await f.database.db.insert(runs).values({ id, source: 'ops', trigger: 'on-push', pipeline: 'build', pipelineIndex: entry(), revisionId: f.ids.active, eventId: EVENT_1, status: 'running', startedAt: new Date() });
    await f.database.db.insert(taskRuns).values([
      { runId: id, name: 'work', phase: 'tasks', position: 0, type: 'local', status: 'running', attempt: 1 },
      { runId: id, name: 'after', phase: 'tasks', position: 1, type: 'local', status: 'pending' },
    ]);
  };
  const chunk = (runId: string, task: string, ...texts: string[]) => f.database.db.insert(logChunks).values({ runId, task, attempt: 1, lines: texts.map((text) => ({ at: Date.now(), stream: 'stdout', text })) });
  const finish = async (runId: string, task: string | undefined, status: string) => {
    if (task) await f.database.db.update(taskRuns).set({ status, finishedAt: new Date() }).where(and(eq(taskRuns.runId, runId), eq(taskRuns.name, task)));
    else await f.database.db.update(runs).set({ status, finishedAt: new Date() }).where(eq(runs.id, runId));
  };

  it('sends the lines there are, then each new chunk as it is written, then `end` with the final status', async () => {
    await newRun('live-1');
    await chunk('live-1', 'work', 'one', 'two');
    const { res, reader } = await follow('/api/v1/runs/live-1/logs?follow=1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await reader.until('the first chunk', () => reader.texts().length === 2);
    expect(reader.texts()).toEqual(['one', 'two']);
    // The chunk id on the chunk's last line only, for Last-Event-ID.
    expect(reader.events.map((e) => e.id === undefined)).toEqual([true, false]);
    expect(JSON.parse(reader.events[0]?.data ?? '')).toMatchObject({ task: 'work', attempt: 1, stream: 'stdout', text: 'one' });

    await chunk('live-1', 'work', 'three');
    await reader.until('a chunk written while following', () => reader.texts().length === 3);
    await chunk('live-1', 'after', 'four');
    await reader.until('a chunk of another task', () => reader.texts().length === 4);
    expect(reader.events.some((e) => e.event === 'end')).toBe(false);

    // As a worker does: the last lines, then the result.
    await chunk('live-1', 'after', 'five');
    await finish('live-1', 'work', 'succeeded');
    await finish('live-1', 'after', 'succeeded');
    await finish('live-1', undefined, 'succeeded');
    await reader.until('the stream to end', () => reader.closed);
    expect(reader.texts()).toEqual(['one', 'two', 'three', 'four', 'five']);
    const last = reader.events[reader.events.length - 1];
    expect(last?.event).toBe('end');
    expect(JSON.parse(last?.data ?? '')).toEqual({ status: 'succeeded' } satisfies LogEnd);
  });

  it('with task, follows that task only and ends when it has, while the run goes on', async () => {
    await newRun('live-2');
    await chunk('live-2', 'work', 'mine');
    await chunk('live-2', 'after', 'not mine');
    const { reader } = await follow('/api/v1/runs/live-2/logs?follow=1&task=work');
    await reader.until('the task\'s line', () => reader.texts().length === 1);
    await finish('live-2', 'work', 'failed');
    await reader.until('the stream to end', () => reader.closed);
    expect(reader.texts()).toEqual(['mine']);
    expect(JSON.parse(reader.events[reader.events.length - 1]?.data ?? '')).toEqual({ status: 'running', task: 'work', taskStatus: 'failed' });
  });

  it('ends at once for a finished run, after sending its lines', async () => {
    const { reader } = await follow('/api/v1/runs/run-a/logs?follow=1');
    await reader.until('the stream to end', () => reader.closed);
    expect(reader.texts()).toEqual(['another run']);
    expect(reader.events.map((e) => e.event)).toEqual(['line', 'end']);
  });

  it('resumes after Last-Event-ID like a reconnecting EventSource', async () => {
    const all = (await call<LogPage>('/api/v1/runs/run-c/logs?task=build&attempt=1')).body;
    const res = await fetch(`${f.url}/api/v1/runs/run-c/logs?follow=1&task=build`, { headers: { authorization: `Bearer ${f.tokens.read}`, 'last-event-id': String(all.next) } });
    const reader = new EventReader(res);
    await reader.until('the stream to end', () => reader.closed);
    expect(reader.texts()).toEqual(['compiling', 'done v1']);
  });

  it('sends a chunk whose insert committed after a later chunk was already sent', async () => {
    await newRun('live-3');
    const { reader, stop } = await follow('/api/v1/runs/live-3/logs?follow=1');
    const slow = new pg.Client({ connectionString: f.databaseUrl });
    await slow.connect();
    try {
      // The slow writer draws its chunk id first, but commits last.
      await slow.query('begin');
      await slow.query(`insert into log_chunks (run_id, task, attempt, lines) values ('live-3', 'work', 1, '[{"at": 0, "stream": "stdout", "text": "early id, late commit"}]')`);
      await chunk('live-3', 'after', 'later id');
      await reader.until('the later chunk', () => reader.texts().includes('later id'));
      await slow.query('commit');
      await reader.until('the late chunk', () => reader.texts().includes('early id, late commit'));
      expect(reader.texts()).toEqual(['later id', 'early id, late commit']);
    } finally {
      stop();
      await slow.end();
    }
  });

  it('keeps a quiet stream alive with comments', async () => {
    await newRun('live-4');
    const { reader, stop } = await follow('/api/v1/runs/live-4/logs?follow=1');
    await reader.until('a heartbeat', () => reader.comments.length > 0, 3000);
    expect(reader.comments[0]).toBe(': keep-alive');
    expect(reader.events).toEqual([]);
    stop();
  });

  it('answers 404 before streaming for an unknown run', async () => {
    const { status, body } = await call<ErrorBody>('/api/v1/runs/nope/logs?follow=1');
    expect(status).toBe(404);
    expect(body.error.code).toBe('NotFound');
  });
});

describe('POST /api/v1/runs/:id/cancel', () => {
  const cancel = (id: string, token: string | null) => call<ErrorBody & { id: string; status: string; stopRequested: string | null }>(`/api/v1/runs/${id}/cancel`, { method: 'POST' }, token);

  it('needs the runs:write scope: no token 401, a read or events:write token 403', async () => {
    expect((await cancel('run-d', null)).status).toBe(401);
    const read = await cancel('run-d', f.tokens.read);
    expect(read.status).toBe(403);
    expect(read.body.error.message).toBe('POST /api/v1/runs/run-d/cancel needs a token with the runs:write scope; the token "reader" has read');
    expect((await cancel('run-d', f.tokens.events)).status).toBe(403);
    expect(f.engine.calls.filter((c) => c[1] === 'run-d')).toEqual([]);
  });

  it('asks the engine to stop the run in the name of the token and answers 202 with the run\'s state', async () => {
    const { status, body } = await cancel('run-j', f.tokens.runs);
    expect(status).toBe(202);
    expect(body).toEqual({ id: 'run-j', status: 'running', stopRequested: 'cancelled' });
    expect(f.engine.calls).toContainEqual(['stopRun', 'run-j', 'cancelled', 'cancelled by operator']);
    const pending = await cancel('run-d', f.tokens.admin);
    expect(pending.status).toBe(202);
    expect(pending.body).toEqual({ id: 'run-d', status: 'cancelled', stopRequested: 'cancelled' });
    expect(f.engine.calls).toContainEqual(['stopRun', 'run-d', 'cancelled', 'cancelled by admin']);
  });

  it('answers 409 for a finished run and 404 for an unknown one, without asking the engine', async () => {
    const before = f.engine.calls.length;
    const done = await cancel('run-b', f.tokens.runs);
    expect(done.status).toBe(409);
    expect(done.body).toEqual({ error: { code: 'Conflict', message: 'run run-b has already ended as failed (at 2025-05-01T10:01:02.500Z): there is nothing to cancel' } });
    expect((await cancel('run-a', f.tokens.runs)).body.error.message).toBe('run run-a has already succeeded (at 2025-05-01T10:00:31.000Z): there is nothing to cancel');
    const unknown = await cancel('nope', f.tokens.runs);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: 'NotFound', message: 'no run with id "nope"' });
    expect(f.engine.calls.length).toBe(before);
  });
});

describe('POST /api/v1/runs/:id/tasks/:task/approve and /reject', () => {
  const decide = (path: string, body: string | undefined, token: string | null = f.tokens.runs) =>
    call<ErrorBody & DecisionAnswer>(`/api/v1/runs/${path}`, { method: 'POST', ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) }, token);

  it('approves with a comment in the name of the token and answers the decided task', async () => {
    const { status, body } = await decide('run-c/tasks/approve/approve', JSON.stringify({ comment: 'looks good' }));
    expect(status).toBe(200);
    expect(body.runId).toBe('run-c');
    expect(body.task).toMatchObject({ name: 'approve', needs: ['build'], status: 'succeeded', decision: 'approve', decidedBy: 'operator', outputs: { approvedBy: 'operator', comment: 'looks good' } });
    expect(f.engine.calls).toContainEqual(['decideApproval', 'run-c', 'approve', 'approve', 'operator', 'looks good']);
  });

  it('rejects without a body', async () => {
    const { status, body } = await decide('run-i/tasks/gate/reject', undefined, f.tokens.admin);
    expect(status).toBe(200);
    expect(body.task).toMatchObject({ name: 'gate', status: 'failed', decision: 'reject', decidedBy: 'admin' });
    expect(f.engine.calls).toContainEqual(['decideApproval', 'run-i', 'gate', 'reject', 'admin', undefined]);
  });

  it('passes on the engine\'s refusals: 409 for a task not waiting, 404 for an unknown run or task', async () => {
    const again = await decide('run-c/tasks/approve/approve', undefined);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'Conflict', message: 'task approve of run run-c is succeeded, not waiting for an approval' } });
    const task = await decide('run-c/tasks/nope/approve', undefined);
    expect(task.status).toBe(404);
    expect(task.body.error).toEqual({ code: 'NotFound', message: 'run run-c has no task nope' });
    expect((await decide('nope/tasks/gate/approve', undefined)).status).toBe(404);
  });

  it('needs runs:write and a well-formed body', async () => {
    expect((await decide('run-j/tasks/gate/approve', undefined, f.tokens.read)).status).toBe(403);
    expect((await decide('run-j/tasks/gate/approve', undefined, null)).status).toBe(401);
    const notJson = await decide('run-j/tasks/gate/approve', 'looks good');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.message).toBe('the body must be empty or JSON like {"comment": "looks good"}');
    expect((await decide('run-j/tasks/gate/approve', JSON.stringify({ comment: 42 }))).body.error.message).toBe('comment must be a string');
    expect((await decide('run-j/tasks/gate/approve', JSON.stringify(['x']))).status).toBe(400);
    expect((await decide('run-j/tasks/gate/approve', JSON.stringify({ comment: 'x'.repeat(2001) }))).status).toBe(400);
    const [gate] = await f.database.db.select().from(taskRuns).where(and(eq(taskRuns.runId, 'run-j'), eq(taskRuns.name, 'gate')));
    expect(gate?.status).toBe('waiting_approval');
  });
});

describe('the runs routes in the app', () => {
  it('are not served without a run engine', async () => {
    const app = createApp({ db: f.database.db, reconciler: new RecordingReconciler(), version: 'x' });
    const res = await app.request('/api/v1/runs', { headers: { authorization: `Bearer ${f.tokens.read}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NotFound', message: 'no route GET /api/v1/runs' } });
  });

  it('with anonymousRead, read without a token but still need runs:write to cancel', async () => {
    const app = createApp({ db: f.database.db, reconciler: new RecordingReconciler(), version: 'x', anonymousRead: true, runs: { engine: f.engine } });
    expect((await app.request('/api/v1/runs/run-a')).status).toBe(200);
    expect((await app.request('/api/v1/runs/run-a/logs')).status).toBe(200);
    expect((await app.request('/api/v1/runs/run-h/cancel', { method: 'POST' })).status).toBe(401);
  });
});
