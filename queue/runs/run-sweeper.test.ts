// The run sweeper's re-enqueueing of queued tasks, on real PostgreSQL: a task queued longer than
// the grace is enqueued again once per grace period, by one of several sweepers at a time, not on
// every sweep by every sweeper (a backlog of thousands of queued tasks must not turn into a storm
// of enqueues); a task in retry backoff is left alone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import type { Job, RunEngine } from './run-engine.js';
import { sweepRuns } from './run-sweeper.js';

let testDb: TestDatabase;
let databases: Database[];
let dir: string;
const TASKS = 30;

beforeAll(async () => {
  testDb = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'eventops-sweeper-'));
  databases = [await openDatabase({ url: testDb.url, dataDir: dir }), await openDatabase({ url: testDb.url, dataDir: dir })];
  // Bare task rows, without the run, event and revision they belong to (only the sweeper's query matters here).
  const client = new pg.Client({ connectionString: testDb.url });
  await client.connect();
  try {
    await client.query(`set session_replication_role = replica`);
    for (let i = 0; i < TASKS; i++) {
      await client.query(
        `insert into task_runs (run_id, name, phase, position, type, status, attempt, updated_at) values ($1, 'work', 'tasks', 0, 'local', 'queued', 1, now() - interval '1 hour')`,
        [`run-${i}`],
      );
    }
    // One in retry backoff, one running: neither is enqueued.
    await client.query(`insert into task_runs (run_id, name, phase, position, type, status, attempt, updated_at, not_before) values ('run-backoff', 'work', 'tasks', 0, 'local', 'queued', 2, now() - interval '1 hour', now() + interval '1 hour')`);
    await client.query(`insert into task_runs (run_id, name, phase, position, type, status, attempt, updated_at, lease_until) values ('run-running', 'work', 'tasks', 0, 'local', 'running', 1, now() - interval '1 hour', now() + interval '1 hour')`);
  } finally {
    await client.end();
  }
});

afterAll(async () => {
  for (const d of databases ?? []) await d.close();
  await testDb?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The sweeper's engine calls are for other repairs; none is expected here. */
const engine = new Proxy({}, { get: (_, name) => () => Promise.reject(new Error(`unexpected engine.${String(name)}`)) }) as unknown as RunEngine;

function sweeper(database: Database) {
  const enqueued: Job[] = [];
  const sweep = () => sweepRuns({ db: database.db, engine, olderThanMs: 60_000, enqueue: async (jobs) => void enqueued.push(...jobs) });
  return { enqueued, sweep };
}

describe('the run sweeper and queued tasks', () => {
  it('enqueues each forgotten task once across two sweepers sweeping at once, then not again within the grace', async () => {
    const [a, b] = [sweeper(databases[0] as Database), sweeper(databases[1] as Database)];
    const [ra, rb] = await Promise.all([a.sweep(), b.sweep()]);
    expect(ra.requeued + rb.requeued).toBe(TASKS);
    const ids = [...a.enqueued, ...b.enqueued].map((j) => (j.payload as { runId: string }).runId).sort();
    expect(ids).toEqual(Array.from({ length: TASKS }, (_, i) => `run-${i}`).sort());
    expect([...a.enqueued, ...b.enqueued].every((j) => j.queue === 'tasks' && j.job === 'run-task' && (j.payload as { attempt: number }).attempt === 1)).toBe(true);

    // Swept again at once (as every sweep interval does): nothing, the grace starts again.
    for (let i = 0; i < 3; i++) {
      expect((await a.sweep()).requeued).toBe(0);
      expect((await b.sweep()).requeued).toBe(0);
    }
    expect(a.enqueued.length + b.enqueued.length).toBe(TASKS);

    // Once the grace has passed again (the tasks are still queued), they are enqueued again.
    const client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    try {
      await client.query(`update task_runs set updated_at = now() - interval '2 minutes' where run_id like 'run-%' and status = 'queued' and not_before is null`);
    } finally {
      await client.end();
    }
    expect((await a.sweep()).requeued).toBe(TASKS);
  });
});
