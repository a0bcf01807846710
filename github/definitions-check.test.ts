// The check-definitions job against real pieces: a git server, the embedded database (with the
// real reconciler applying the active revision), the revision checker and a fake GitHub API. What
// a retry, a second event for one commit, two jobs at once and an unreadable repository do to the
// one check run of a commit.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretStore, type SourceConfig } from '../config/index.js';
import { createReconciler, createRevisionChecker, type ProcessReconciler } from '../reconciler/index.js';
import { events, githubDefinitionChecks, openDatabase, type Database } from '../schemas/database/index.js';
import { startFakeGithub, type FakeGithub } from '../test/helpers/fake-github.js';
import { closedPortUrl, startGitServer, type GitServer, type TestRepo } from '../test/helpers/git-server.js';
import { createDefinitionsCheck, DefinitionsCheckBusyError, type DefinitionsCheck } from './definitions-check.js';
import { createGithubClient, type GithubClient } from './github-client.js';

const TOKEN = 'ghs_definitions_check_unit';
const pipeline = (name: string, commands: string, needs = '') => `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: here }
spec: { local: {} }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  tasks:
    - name: build
      commands: ${commands}
    - name: test
${needs ? `      needs: ${needs}\n` : ''}      commands: [ "echo test" ]
`;

describe('createDefinitionsCheck', () => {
  let dir: string;
  let git: GitServer;
  let repo: TestRepo;
  let github: FakeGithub;
  let database: Database;
  let reconciler: ProcessReconciler;
  let check: DefinitionsCheck;
  let source: SourceConfig;
  /** Source "gone": a repository on a port where nothing listens. */
  let goneUrl: string;
  /** The next PATCH that completes a check run fails once per count (a connection lost after the annotations went). */
  let failCompleting = 0;

  const event = async (sha: string, type: 'pull_request' | 'push' = 'pull_request', url = git.url('acme/ops')) => {
    const id = randomUUID();
    const repository = { full_name: 'acme/ops', clone_url: url };
    const body = type === 'push' ? { ref: 'refs/heads/feature', after: sha, repository } : { action: 'opened', number: 3, pull_request: { number: 3, head: { sha }, base: { ref: 'main' } }, repository };
    await database.db.insert(events).values({ id, source: 'github', type, action: type === 'push' ? null : 'opened', body, deliveryId: id });
    return id;
  };
  const checkRuns = (sha: string) => github.checkRuns.filter((r) => r.head_sha === sha && r.name === 'eventops/definitions');
  const row = async (sha: string) => (await database.db.select().from(githubDefinitionChecks)).find((r) => r.headSha === sha);
  const onBranch = async (branch: string, files: Record<string, string>) => {
    await repo.git('checkout', '-q', '-B', branch, 'main');
    await repo.write(files);
    const sha = await repo.commit(branch);
    await repo.git('checkout', '-q', 'main');
    return sha;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-defcheck-unit-'));
    git = await startGitServer();
    repo = await git.createRepo('acme/ops');
    await repo.write({ 'defs/ci.yaml': pipeline('ci', '[ "echo build" ]') });
    await repo.commit('main');
    github = await startFakeGithub({ token: TOKEN });
    database = await openDatabase({ dataDir: '', inMemory: true });
    source = { name: 'ops', type: 'git', url: git.url('acme/ops'), ref: 'main', dir: 'defs', intervalMs: 3_600_000, timeoutMs: 10_000, ignore: [], secrets: [] };
    const secrets = createSecretStore({ env: {} });
    reconciler = createReconciler({ database, sources: [source], dataDir: dir, secrets, logger: pino({ level: 'silent' }), schedule: false });
    await reconciler.start();
    expect((await reconciler.requestReconcile('ops')).outcome).toBe('applied');
    const real = createGithubClient({ auth: { token: TOKEN }, apiUrl: github.url });
    const hooked = new WeakSet<object>();
    const client: GithubClient = {
      ...real,
      async forRepo(owner, name, installationId) {
        const octokit = await real.forRepo(owner, name, installationId);
        if (!hooked.has(octokit)) {
          hooked.add(octokit);
          octokit.hook.before('request', (options) => {
            if (failCompleting > 0 && options.method === 'PATCH' && (options as { status?: unknown }).status === 'completed') {
              failCompleting--;
              throw new Error('socket hang up (injected)');
            }
          });
        }
        return octokit;
      },
    };
    goneUrl = await closedPortUrl();
    check = createDefinitionsCheck({ db: database.db, client, sources: [source, { ...source, name: 'gone', url: goneUrl }], checker: createRevisionChecker({ dataDir: dir, secrets }) });
  }, 60_000);

  afterAll(async () => {
    await reconciler?.close();
    await database?.close();
    await github?.close();
    await git?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a retry after the completing update failed: the same check run, annotations not sent twice', async () => {
    const sha = await onBranch('broken', { 'defs/ci.yaml': pipeline('ci', '[ "echo build" ]', '[ compile ]') });
    const id = await event(sha);
    failCompleting = 1;
    await expect(check.run(id)).rejects.toThrow(/socket hang up/);
    expect(checkRuns(sha)).toMatchObject([{ status: 'in_progress', annotations: [{ path: 'defs/ci.yaml', start_line: 14 }] }]);
    expect(await row(sha)).toMatchObject({ annotationsSent: 1, reportedKey: null, lockUntil: null });
    await check.run(id);
    const [run, ...more] = checkRuns(sha);
    expect(more).toHaveLength(0);
    expect(run).toMatchObject({ status: 'completed', conclusion: 'failure' });
    expect(run!.annotations).toHaveLength(1);
  });

  it('a second event for one commit updates its check run only when the report changed (the active revision moved)', async () => {
    const sha = await onBranch('feature', { 'defs/ci.yaml': pipeline('ci', '[ "echo build", "echo more" ]') });
    await check.run(await event(sha));
    expect(checkRuns(sha)).toMatchObject([{ conclusion: 'success' }]);
    expect(checkRuns(sha)[0]!.output?.summary).toContain('- ✏️ Pipeline `ci` — `spec.tasks[build].commands`');
    const calls = github.requests.length;
    // The push of the same commit: the same report, nothing sent.
    await check.run(await event(sha, 'push'));
    expect(github.requests.length).toBe(calls);
    // main moves to this very commit: the plan is now "nothing changes", on the same check run.
    await repo.git('push', '-q', 'origin', `${sha}:refs/heads/main`);
    expect((await reconciler.requestReconcile('ops')).outcome).toBe('applied');
    await check.run(await event(sha, 'push'));
    expect(checkRuns(sha)).toHaveLength(1);
    expect(checkRuns(sha)[0]!.output?.summary).toContain("This commit is the source's active revision: merging it changes nothing.");
    expect(github.requests.slice(calls).map((r) => r.method)).toEqual(['PATCH']);
  });

  it('two jobs for one commit at once: one writes, the other is told to retry', async () => {
    const sha = await onBranch('twice', { 'defs/ci.yaml': pipeline('ci', '[ "echo twice" ]') });
    const [a, b] = await Promise.allSettled([check.run(await event(sha)), check.run(await event(sha, 'push'))]);
    const outcomes = [a, b].map((r) => (r.status === 'fulfilled' ? 'done' : r.reason instanceof DefinitionsCheckBusyError ? 'busy' : String(r.reason)));
    expect(outcomes.sort()).toEqual(['busy', 'done']);
    expect(checkRuns(sha)).toMatchObject([{ status: 'completed', conclusion: 'success' }]);
  });

  it('an unreachable repository: retried (the check stays in progress) until the last attempt, which completes it as neutral', async () => {
    const sha = 'd'.repeat(40);
    const id = await event(sha, 'pull_request', goneUrl);
    await expect(check.run(id)).rejects.toMatchObject({ kind: 'transient', reason: 'Unreachable' });
    expect(checkRuns(sha)).toMatchObject([{ status: 'in_progress' }]);
    await check.run(id, { final: true });
    expect(checkRuns(sha)).toMatchObject([{ status: 'completed', conclusion: 'neutral', output: { title: 'Could not check source gone: Unreachable' } }]);
  });
});
