// The run reporter against the embedded database and the fake GitHub API: reports that run at
// once for one run (each job's own version) end with GitHub showing the latest state, in one
// check run, with no job left failing; a report of a version already shown writes nothing.
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, githubReports, openDatabase, revisions, runs, sources, taskRuns, type Database } from '../schemas/database/index.js';
import { startFakeGithub, type FakeGithub } from '../test/helpers/fake-github.js';
import { createGithubClient } from './github-client.js';
import { createRunReporter, type RunReporter } from './run-report.js';

const SHA = 'feedfacefeedfacefeedfacefeedfacefeedface';

describe('createRunReporter', () => {
  let database: Database;
  let github: FakeGithub;
  let reporter: RunReporter;
  let revisionId: number;

  beforeAll(async () => {
    database = await openDatabase({ dataDir: '', inMemory: true });
    github = await startFakeGithub({ token: 't0k' });
    reporter = createRunReporter({ db: database.db, client: createGithubClient({ auth: { token: 't0k' }, apiUrl: github.url }) });
    await database.db.insert(sources).values({ name: 'ops', type: 'git', location: 'https://git.example/acme/ops.git' });
    const [revision] = await database.db.insert(revisions).values({ source: 'ops', commit: 'a'.repeat(40), configHash: 'h', status: 'applied' }).returning({ id: revisions.id });
    revisionId = revision!.id;
  }, 60_000);

  afterAll(async () => {
    await github?.close();
    await database?.close();
  });

  const newRun = async () => {
    const eventId = randomUUID();
    await database.db.insert(events).values({ id: eventId, source: 'github', type: 'push', body: { after: SHA, repository: { full_name: 'acme/ops' } } });
    const id = randomUUID();
    await database.db.insert(runs).values({ id, source: 'ops', trigger: 't', pipeline: `p-${id.slice(0, 6)}`, pipelineIndex: 0, revisionId, eventId, version: 'v0' });
    await database.db.insert(taskRuns).values({ runId: id, name: 'build', phase: 'tasks', position: 0, type: 'local', status: 'queued', attempt: 1 });
    return id;
  };
  const move = (id: string, status: string, version: string) => database.db.update(runs).set({ status, version }).where(eq(runs.id, id));

  it('reports started together while the run changes end on its latest state, in one check run', async () => {
    const id = await newRun();
    const jobs: Promise<void>[] = [reporter.report(id)];
    await move(id, 'running', 'v1');
    jobs.push(reporter.report(id), reporter.report(id));
    await move(id, 'succeeded', 'v2');
    // The last transition's own job, enqueued after its commit.
    jobs.push(reporter.report(id));
    await Promise.all(jobs);
    const mine = github.checkRuns.filter((r) => r.external_id === id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: 'completed', conclusion: 'success' });
    const [row] = await database.db.select().from(githubReports).where(eq(githubReports.runId, id));
    expect(row).toMatchObject({ reportedVersion: 'v2', lockUntil: null, checkRunId: mine[0]!.id });
  });

  it('a report of a version GitHub already shows sends nothing', async () => {
    const id = await newRun();
    await reporter.report(id);
    const before = github.requests.length;
    await reporter.report(id);
    expect(github.requests.length).toBe(before);
  });
});
