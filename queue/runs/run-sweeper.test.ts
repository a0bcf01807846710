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

/** Makes the queued tasks (not those in backoff) look untouched for longer than the grace. */
async function pastTheGrace(): Promise<void> {
  const client = new pg.Client({ connectionString: testDb.url });
  await client.connect();
  try {
    await client.query(`update task_runs set updated_at = now() - interval '2 minutes' where run_id like 'run-%' and status = 'queued' and not_before is null`);
  } finally {
    await client.end();
  }
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
    await pastTheGrace();
    expect((await a.sweep()).requeued).toBe(TASKS);

    // A task whose job still waits in the queue is not added again: only the jobs the driver added count.
    await pastTheGrace();
    const halfAdded = await sweepRuns({
      db: (databases[0] as Database).db,
      engine,
      olderThanMs: 60_000,
      enqueue: async (jobs) => jobs.map((_, i) => ({ added: i % 2 === 0 })),
    });
    expect(halfAdded.requeued).toBe(Math.ceil(TASKS / 2));
  });
});

// Follow-up jobs lost on the way to the queue (Redis flushed, the process died after the commit):
// runs GitHub shows an older state of, and runs with CloudEvents a sink was not sent.
describe('the run sweeper and lost follow-up jobs', () => {
  const ago = (what: string) => `now() - interval '${what}'`;
  beforeAll(async () => {
    const client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    try {
      await client.query(`set session_replication_role = replica`);
      const run = (id: string, version: string, updated: string, created = '10 minutes') =>
        client.query(`insert into runs (id, source, trigger, pipeline, pipeline_index, revision_id, event_id, status, version, created_at, updated_at) values ($1, 's', 't', 'p', 0, 1, 'e-' || $1, 'succeeded', $2, ${ago(created)}, ${ago(updated)})`, [id, version]);
      const report = (id: string, reported: string | null, lock?: string) =>
        client.query(`insert into github_reports (run_id, owner, repo, reported_version, lock_until) values ($1, 'acme', 'ops', $2, ${lock ?? 'null'})`, [id, reported]);
      // Reports: behind; up to date; behind but being written now; behind but changed just now; behind but two days old.
      await run('rep-behind', 'v2', '2 minutes');
      await report('rep-behind', 'v1');
      await run('rep-current', 'v2', '2 minutes');
      await report('rep-current', 'v2');
      await run('rep-locked', 'v2', '2 minutes');
      await report('rep-locked', 'v1', `now() + interval '20 seconds'`);
      await run('rep-fresh', 'v2', '1 second');
      await report('rep-fresh', 'v1');
      await run('rep-old', 'v2', '2 days', '2 days');
      await report('rep-old', null);
      // CloudEvents: none sent yet; one sink behind; all sent; a sink behind but held; the last event just now.
      const events = async (id: string, last: string) => {
        await run(id, 'v', '2 minutes');
        for (const seq of [1, 2, 3]) {
          await client.query(`insert into run_events (run_id, seq, event, "on", subject, created_at) values ($1, $2, '{}'::jsonb, 'started', 'x', ${seq === 3 ? ago(last) : ago('5 minutes')})`, [id, seq]);
        }
      };
      const cursor = (id: string, sink: string, sent: number, lease?: string) =>
        client.query(`insert into run_event_cursors (run_id, sink, sent, lease_until) values ($1, $2, $3, ${lease ?? 'null'})`, [id, sink, sent]);
      await events('pub-none', '2 minutes');
      await events('pub-behind', '2 minutes');
      await cursor('pub-behind', 'nats', 3);
      await cursor('pub-behind', 'pipeline/0', 1);
      await events('pub-done', '2 minutes');
      await cursor('pub-done', 'nats', 3);
      await events('pub-held', '2 minutes');
      await cursor('pub-held', 'nats', 2, `now() + interval '20 seconds'`);
      await events('pub-fresh', '1 second');
    } finally {
      await client.end();
    }
  });

  const followUps = (jobs: readonly Job[]) =>
    jobs
      .filter((j) => j.job === 'report-run' || j.job === 'publish-run-events')
      .map((j) => `${j.job} ${JSON.stringify(j.payload)}`)
      .sort();

  it('enqueues report-run at the latest version and publish-run-events up to the last event, for exactly the runs left behind', async () => {
    const enqueued: Job[] = [];
    const sweep = await sweepRuns({ db: (databases[0] as Database).db, engine, olderThanMs: 60_000, reportJobs: (run) => [{ queue: 'reports', job: 'report-run', payload: { runId: run.id, version: run.version } }], enqueue: async (jobs) => void enqueued.push(...jobs) });
    expect(followUps(enqueued)).toEqual([
      'publish-run-events {"runId":"pub-behind","seq":3}',
      'publish-run-events {"runId":"pub-none","seq":3}',
      'report-run {"runId":"rep-behind","version":"v2"}',
    ]);
    expect(enqueued.filter((j) => j.queue !== 'tasks').every((j) => j.queue === 'reports')).toBe(true);
    expect([sweep.reported, sweep.published]).toEqual([1, 2]);
  });

  it('adds no report job without GitHub configured, and counts only the jobs the queue did not already hold', async () => {
    const enqueued: Job[] = [];
    const sweep = await sweepRuns({
      db: (databases[1] as Database).db,
      engine,
      olderThanMs: 60_000,
      // As a driver answers: the publish of pub-none is still queued (same job id), so not added.
      enqueue: async (jobs) => {
        enqueued.push(...jobs);
        return jobs.map((j) => ({ added: !(j.job === 'publish-run-events' && (j.payload as { runId: string }).runId === 'pub-none') }));
      },
    });
    expect(followUps(enqueued)).toEqual(['publish-run-events {"runId":"pub-behind","seq":3}', 'publish-run-events {"runId":"pub-none","seq":3}']);
    expect([sweep.reported, sweep.published]).toEqual([0, 1]);
  });
});
