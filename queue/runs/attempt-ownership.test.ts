// Which attempts a live worker owns, on real PostgreSQL: the current, running attempt with a live
// lease is owned; an earlier attempt, an expired lease or an ended task is an orphan; a task this
// database does not know (another deployment's work on a shared ssh host or Docker daemon) is
// never judged an orphan, so it is never stopped.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { attemptOwnership } from './attempt-ownership.js';

let testDb: TestDatabase;
let database: Database;
let dir: string;

beforeAll(async () => {
  testDb = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'eventops-ownership-'));
  database = await openDatabase({ url: testDb.url, dataDir: dir });
  const client = new pg.Client({ connectionString: testDb.url });
  await client.connect();
  try {
    // Bare task rows (only the ownership query matters here).
    await client.query(`set session_replication_role = replica`);
    const row = `insert into task_runs (run_id, name, phase, position, type, status, attempt, lease_until) values ($1, 'work', 'tasks', 0, 'ssh', $2, $3, now() + $4::interval)`;
    await client.query(row, ['run-live', 'running', 2, '1 hour']);
    await client.query(row, ['run-expired', 'running', 1, '-1 minute']);
    await client.query(row, ['run-ended', 'failed', 1, '1 hour']);
  } finally {
    await client.end();
  }
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('attemptOwnership', () => {
  it('owns the current running attempt with a live lease, and nothing else of a task it knows', async () => {
    const ownership = attemptOwnership(database.db);
    expect(await ownership.owned({ runId: 'run-live', task: 'work', attempt: 2 })).toBe(true);
    expect(await ownership.owned({ runId: 'run-live', task: 'work', attempt: 1 })).toBe(false);
    expect(await ownership.owned({ runId: 'run-expired', task: 'work', attempt: 1 })).toBe(false);
    expect(await ownership.owned({ runId: 'run-ended', task: 'work', attempt: 1 })).toBe(false);
  });

  it('leaves alone what another deployment runs: a run or task this database does not know', async () => {
    const ownership = attemptOwnership(database.db);
    expect(await ownership.owned({ runId: 'run-of-another-deployment', task: 'work', attempt: 1 })).toBe(true);
    expect(await ownership.owned({ runId: 'run-live', task: 'another-task', attempt: 1 })).toBe(true);
  });
});
