// `eventops runs …` against the real HTTP API on a free port over a real PostgreSQL database
// seeded with runs, tasks and logs, run in-process with captured output. Cancel and approvals
// reach a recording stand-in of our own run-engine interface (webhooks/api/runs-routes.test.ts
// says why); `logs -f` follows a real stream while the test writes chunks and ends the run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, logChunks, openDatabase, runs, taskRuns, type Database, type Db, type RunRow, type TaskRunRow } from '../../schemas/database/index.js';
import { RecordingReconciler, seedSources } from '../../test/helpers/api-fixture.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createApp, createToken, startHttpServer, type HttpServer, type RunDetail, type RunPage, type RunsEngine } from '../../webhooks/index.js';
import { run as eventopsRun } from '../main.js';

const EVENT = '7d0e6f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6';
const T0 = Date.parse('2025-05-01T10:00:00Z');

/** Records the calls and changes the rows as the engine would; refuses like it, by name and status. */
class RecordingEngine implements RunsEngine {
  readonly calls: unknown[][] = [];
  constructor(private readonly db: Db) {}

  async stopRun(runId: string, stop: 'cancelled' | 'timed_out', why?: string): Promise<RunRow> {
    this.calls.push(['stopRun', runId, stop, why]);
    const [row] = await this.db.update(runs).set({ stopRequested: stop, error: why ?? null }).where(eq(runs.id, runId)).returning();
    return row as RunRow;
  }

  async decideApproval(runId: string, task: string, decision: 'approve' | 'reject', by: string, comment?: string): Promise<TaskRunRow> {
    this.calls.push(['decideApproval', runId, task, decision, by, comment]);
    const where = and(eq(taskRuns.runId, runId), eq(taskRuns.name, task));
    const [row] = await this.db.select().from(taskRuns).where(where);
    if (row?.status !== 'waiting_approval') throw Object.assign(new Error(`task ${task} of run ${runId} is ${row?.status ?? 'missing'}, not waiting for an approval`), { name: 'RunStateError', status: 409 });
    const [updated] = await this.db.update(taskRuns).set({ status: decision === 'approve' ? 'succeeded' : 'failed', decision, decidedBy: by }).where(where).returning();
    return updated as TaskRunRow;
  }
}

async function seed(db: Db, revisionId: number): Promise<void> {
  await db.insert(events).values({ id: EVENT, source: 'api', type: 'deploy.requested', status: 'matched' });
  let entry = 0;
  const run = (id: string, minute: number, values: Partial<typeof runs.$inferInsert>): typeof runs.$inferInsert => ({
    id,
    source: 'ops',
    trigger: 'on-deploy',
    pipeline: 'build',
    pipelineIndex: entry++,
    revisionId,
    eventId: EVENT,
    createdAt: new Date(T0 + minute * 60_000),
    ...values,
  });
  await db.insert(runs).values([
    run('run-ok', 0, { status: 'succeeded', inputs: { ref: 'v1' }, outputs: { image: 'app:v1' }, startedAt: new Date(T0), finishedAt: new Date(T0 + 12_300) }),
    run('run-bad', 1, { pipeline: 'deploy', status: 'failed', error: 'task ship failed: exit code 3', startedAt: new Date(T0 + 60_000), finishedAt: new Date(T0 + 60_850) }),
    run('run-wait', 2, { pipeline: 'gated', status: 'running', startedAt: new Date(T0 + 120_000) }),
    run('run-live', 3, { status: 'running', startedAt: new Date(T0 + 180_000) }),
    run('run-doomed', 4, { status: 'running', startedAt: new Date(T0 + 240_000) }),
  ]);
  const task = (runId: string, name: string, position: number, values: Partial<typeof taskRuns.$inferInsert>): typeof taskRuns.$inferInsert => ({ runId, name, position, phase: 'tasks', type: 'local', ...values });
  await db.insert(taskRuns).values([
    task('run-ok', 'compile', 0, { status: 'succeeded', attempt: 1, actuator: 'ops/here', exitCode: 0, startedAt: new Date(T0), finishedAt: new Date(T0 + 1500) }),
    task('run-ok', 'test', 1, { status: 'succeeded', attempt: 2, actuator: 'ops/here', exitCode: 0, startedAt: new Date(T0 + 4000), finishedAt: new Date(T0 + 12_000) }),
    task('run-ok', 'notify', 2, { status: 'skipped', skipReason: 'condition', error: 'if was false' }),
    task('run-bad', 'ship', 0, { status: 'failed', attempt: 1, actuator: 'ops/here', exitCode: 3, error: 'exit code 3', startedAt: new Date(T0 + 60_000), finishedAt: new Date(T0 + 60_850) }),
    task('run-wait', 'gate', 0, { type: 'approval', status: 'waiting_approval' }),
    task('run-live', 'work', 0, { status: 'running', attempt: 1 }),
    task('run-doomed', 'work', 0, { status: 'running', attempt: 1 }),
  ]);
  const line = (ms: number, stream: string, text: string) => ({ at: T0 + ms, stream, text });
  await db.insert(logChunks).values([
    { runId: 'run-ok', task: 'compile', attempt: 1, lines: [line(100, 'system', 'on ops/here'), line(200, 'stdout', 'compiling'), line(1400, 'stderr', 'warning: unused x')] },
    { runId: 'run-ok', task: 'test', attempt: 2, lines: [line(11_999, 'stdout', 'ok 3 tests')] },
  ]);
}

let test: TestDatabase;
let database: Database;
let server: HttpServer;
let engine: RecordingEngine;
let dataDir: string;
const tokens = { admin: '', read: '' };

beforeAll(async () => {
  test = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'eventops-runs-cli-'));
  database = await openDatabase({ url: test.url, dataDir });
  const ids = await seedSources(database.db);
  await seed(database.db, ids.active);
  tokens.admin = await createToken(database.db, { name: 'admin', scopes: ['admin'] });
  tokens.read = await createToken(database.db, { name: 'reader', scopes: ['read'] });
  engine = new RecordingEngine(database.db);
  const app = createApp({ db: database.db, reconciler: new RecordingReconciler(), version: '0.0.0-test', runs: { engine, follow: { pollMs: 40 } } });
  server = await startHttpServer(app, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server?.close();
  await database?.close();
  await test?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Runs the CLI; `out` can be watched while it runs. */
function eventops(argv: string[], token = tokens.admin): { done: Promise<number>; out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  const done = eventopsRun([...argv, '--server', server.url], { out: (s) => (stdout += s), err: (s) => (stderr += s), cwd: dataDir, env: { EVENTOPS_TOKEN: token } });
  return { done, out: () => stdout, err: () => stderr };
}

async function finished(argv: string[], token?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const call = eventops(argv, token);
  const code = await call.done;
  return { code, stdout: call.out(), stderr: call.err() };
}

async function until(what: string, test: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('eventops runs list', () => {
  it('prints the newest runs first with status, trigger, age, duration and error', async () => {
    const { code, stdout, stderr } = await finished(['runs', 'list']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+PIPELINE\s+STATUS\s+TRIGGER\s+CREATED\s+DURATION\s+ERROR$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['run-doomed', 'run-live', 'run-wait', 'run-bad', 'run-ok']);
    expect(lines).toContainEqual(expect.stringMatching(/^run-bad\s+deploy\s+failed\s+on-deploy\s+\d+d ago\s+850ms\s+task ship failed: exit code 3$/));
    expect(lines).toContainEqual(expect.stringMatching(/^run-ok\s+build\s+succeeded\s+on-deploy\s+\d+d ago\s+12\.3s$/));
    // Still running: how long so far.
    expect(lines).toContainEqual(expect.stringMatching(/^run-wait\s+gated\s+running\s+on-deploy\s+\d+d ago\s+\S+…$/));
  });

  it('passes the filters on, and says how to get the next page', async () => {
    expect((await finished(['runs', 'list', '--status', 'failed,succeeded', '--pipeline', 'deploy'])).stdout).toMatch(/^ID.*\nrun-bad\s/);
    const first = await finished(['runs', 'list', '--limit', '2', '--event', EVENT, '--source', 'ops', '--trigger', 'on-deploy']);
    expect(first.stdout.trimEnd().split('\n')).toHaveLength(3);
    const cursor = /^more runs: add --cursor (\S+)\n$/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await finished(['runs', 'list', '--limit', '2', '--cursor', cursor as string]);
    expect(second.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['run-wait', 'run-bad']);
    expect((await finished(['runs', 'list', '--pipeline', 'nothing'])).stdout).toBe('no runs\n');
  });

  it('prints the API page with -o json and -o yaml', async () => {
    const json = await finished(['runs', 'list', '-o', 'json', '--limit', '4']);
    const page = JSON.parse(json.stdout) as RunPage;
    expect(page.runs.map((r) => r.id)).toEqual(['run-doomed', 'run-live', 'run-wait', 'run-bad']);
    expect(page.nextCursor).toEqual(expect.any(String));
    expect(json.stderr).toBe('');
    expect(parse((await finished(['runs', 'list', '-o', 'yaml', '--limit', '4'])).stdout)).toEqual(page);
  });

  it('exits 1 with the server\'s message for a bad filter', async () => {
    const { code, stderr } = await finished(['runs', 'list', '--status', 'done']);
    expect(code).toBe(1);
    expect(stderr).toBe('eventops: unknown status "done": use one or more of pending, running, succeeded, failed, cancelled, timed_out, comma-separated\n');
  });
});

describe('eventops runs get', () => {
  it('prints the run and a table of its tasks with status, attempt, duration, actuator and error', async () => {
    const { code, stdout } = await finished(['runs', 'get', 'run-ok']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Run:\s+run-ok$/m);
    expect(stdout).toMatch(/^Status:\s+succeeded$/m);
    expect(stdout).toMatch(/^Trigger:\s+on-deploy \(source ops, revision 9b2e7f00c1d2\)$/m);
    expect(stdout).toMatch(/^Duration:\s+12\.3s$/m);
    expect(stdout).toMatch(/^Inputs:\s+\{"ref":"v1"\}$/m);
    expect(stdout).toMatch(/^Outputs:\s+\{"image":"app:v1"\}$/m);
    expect(stdout).toMatch(/^ {2}TASK\s+STATUS\s+ATTEMPT\s+DURATION\s+ACTUATOR\s+ERROR$/m);
    expect(stdout).toMatch(/^ {2}compile\s+succeeded\s+1\s+1\.5s\s+ops\/here$/m);
    expect(stdout).toMatch(/^ {2}test\s+succeeded\s+2\s+8\.0s\s+ops\/here$/m);
    expect(stdout).toMatch(/^ {2}notify\s+skipped \(if was false\)\s+-\s+-\s+-\s+if was false$/m);
    const bad = await finished(['runs', 'get', 'run-bad']);
    expect(bad.stdout).toMatch(/^Error:\s+task ship failed: exit code 3$/m);
    expect(bad.stdout).toMatch(/^ {2}ship\s+failed\s+1\s+850ms\s+ops\/here\s+exit code 3$/m);
  });

  it('prints the API answer with -o json, and exits 1 for an unknown run', async () => {
    const detail = JSON.parse((await finished(['runs', 'get', 'run-ok', '-o', 'json'])).stdout) as RunDetail;
    expect(detail.tasks.map((t) => t.name)).toEqual(['compile', 'test', 'notify']);
    const { code, stdout, stderr } = await finished(['runs', 'get', 'nope']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('eventops: no run with id "nope"\n');
  });
});

describe('eventops runs logs', () => {
  it('prints each line as UTC time, task and text, stderr and eventops\'s own lines marked', async () => {
    const { code, stdout } = await finished(['runs', 'logs', 'run-ok']);
    expect(code).toBe(0);
    expect(stdout).toBe(['10:00:00.100 compile * on ops/here', '10:00:00.200 compile | compiling', '10:00:01.400 compile ! warning: unused x', '10:00:11.999 test#2  | ok 3 tests', ''].join('\n'));
  });

  it('prints one task with --task, JSON lines with -o json, and refuses a task the run does not have', async () => {
    expect((await finished(['runs', 'logs', 'run-ok', '--task', 'test'])).stdout).toBe('10:00:11.999 test#2  | ok 3 tests\n');
    const json = (await finished(['runs', 'logs', 'run-ok', '-o', 'json'])).stdout.trimEnd().split('\n');
    expect(json.map((l) => (JSON.parse(l) as { text: string }).text)).toEqual(['on ops/here', 'compiling', 'warning: unused x', 'ok 3 tests']);
    const wrong = await finished(['runs', 'logs', 'run-ok', '--task', 'tset']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe('eventops: run run-ok has no task "tset"; its tasks are compile, test, notify\n');
  });

  it('with -f prints lines as they are written and exits 0 once the run has succeeded', async () => {
    const follow = eventops(['runs', 'logs', 'run-live', '-f']);
    await database.db.insert(logChunks).values({ runId: 'run-live', task: 'work', attempt: 1, lines: [{ at: T0, stream: 'stdout', text: 'first' }] });
    await until('the first line', () => follow.out().includes('first'));
    await database.db.insert(logChunks).values({ runId: 'run-live', task: 'work', attempt: 1, lines: [{ at: T0 + 5, stream: 'stderr', text: 'second' }] });
    await until('the second line', () => follow.out().includes('second'));
    await database.db.update(taskRuns).set({ status: 'succeeded' }).where(eq(taskRuns.runId, 'run-live'));
    await database.db.update(runs).set({ status: 'succeeded', finishedAt: new Date() }).where(eq(runs.id, 'run-live'));
    expect(await follow.done).toBe(0);
    expect(follow.out()).toBe('10:00:00.000 work | first\n10:00:00.005 work ! second\n');
    expect(follow.err()).toBe('run run-live succeeded\n');
  });

  it('with -f exits 1 when the run did not succeed', async () => {
    const follow = eventops(['runs', 'logs', 'run-doomed', '--follow']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await database.db.update(runs).set({ status: 'failed', finishedAt: new Date() }).where(eq(runs.id, 'run-doomed'));
    expect(await follow.done).toBe(1);
    expect(follow.err()).toBe('run run-doomed failed\n');
  });

  it('with -f and --task follows that task and exits by its status', async () => {
    const { code, stderr } = await finished(['runs', 'logs', 'run-bad', '-f', '--task', 'ship']);
    expect(code).toBe(1);
    expect(stderr).toBe('task ship failed\n');
    expect((await finished(['runs', 'logs', 'run-ok', '-f', '--task', 'compile'])).code).toBe(0);
  });
});

describe('eventops runs cancel|approve|reject', () => {
  it('cancels with a runs:write token; a read token gets the server\'s 403', async () => {
    const read = await finished(['runs', 'cancel', 'run-wait'], tokens.read);
    expect(read.code).toBe(1);
    expect(read.stderr).toBe('eventops: POST /api/v1/runs/run-wait/cancel needs a token with the runs:write scope; the token "reader" has read (ask an admin for a token with that scope: `eventops tokens create --name NAME --scopes SCOPE`, then set EVENTOPS_TOKEN or pass --token)\n');
    const { code, stdout } = await finished(['runs', 'cancel', 'run-wait']);
    expect(code).toBe(0);
    expect(stdout).toBe('run run-wait: cancel requested; it ends as cancelled once its running tasks have stopped (follow with: eventops runs logs run-wait -f)\n');
    expect(engine.calls).toContainEqual(['stopRun', 'run-wait', 'cancelled', 'cancelled by admin']);
    const done = await finished(['runs', 'cancel', 'run-ok']);
    expect(done.code).toBe(1);
    expect(done.stderr).toMatch(/^eventops: run run-ok has already succeeded \(at .*\): there is nothing to cancel\n$/);
  });

  it('approves with a comment, then refuses a second decision with the server\'s message', async () => {
    const { code, stdout } = await finished(['runs', 'approve', 'run-wait', 'gate', '--comment', 'ship it']);
    expect(code).toBe(0);
    expect(stdout).toBe('task gate of run run-wait approved by admin\n');
    expect(engine.calls).toContainEqual(['decideApproval', 'run-wait', 'gate', 'approve', 'admin', 'ship it']);
    const again = await finished(['runs', 'reject', 'run-wait', 'gate']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('eventops: task gate of run run-wait is succeeded, not waiting for an approval\n');
    expect(engine.calls).toContainEqual(['decideApproval', 'run-wait', 'gate', 'reject', 'admin', undefined]);
  });
});
