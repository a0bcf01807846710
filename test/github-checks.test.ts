// Check runs end to end: a real `eventops serve` process syncs definitions from a real git server
// (repository acme/ops), takes GitHub's published push and check_run example payloads, signed and
// replayed through /webhooks/github, runs the pipelines, and reports to a fake GitHub API (a real
// HTTP server that records every call): one check run per run, created, updated, completed with
// the right conclusion, a task table, a failed task's log and an annotation on its pipeline file.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type CheckRunRecord, type FakeGithub } from './helpers/fake-github.js';
import { startGitServer, type GitServer, type TestRepo } from './helpers/git-server.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';

const HOOK_SECRET = 'gh-hook-secret-5e1';
const GH_TOKEN = 'ghs_fake_installation_token_81b';

type Payload = Record<string, unknown>;
const example = (event: string, action?: string): Payload => {
  const list = (examples as unknown as { name: string; examples: Payload[] }[]).find((d) => d.name === event)?.examples ?? [];
  const found = list.find((e) => action === undefined || e.action === action);
  if (!found) throw new Error(`no published example of ${event}${action ? `.${action}` : ''}`);
  return structuredClone(found);
};

const PIPELINES = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: ci }
spec:
  tasks:
    - name: build
      commands: [ "echo building", "sleep 2", "echo built" ]
    - name: test
      needs: [build]
      commands: [ "echo tests pass" ]
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: lint }
spec:
  tasks:
    - name: check
      commands: [ "echo 'lint: 3 problems in src/app.ts'", "exit 1" ]
`;

const TRIGGERS = `apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: on-push }
spec:
  event: { source: github, type: push }
  filters:
    - { path: body.ref, value: [ "refs/heads/main" ] }
  pipelines: [ { name: ci }, { name: lint } ]
`;

describe('GitHub check runs for runs', () => {
  let dir: string;
  let git: GitServer;
  let repo: TestRepo;
  let github: FakeGithub;
  let server: ServerProcess;
  let commit: string;

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const until = async <T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms = 30_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n--- server ---\n${server.output().slice(-3000)}\n--- github calls ---\n${github.requests.map((r) => `${r.method} ${r.path}`).join('\n').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const deliver = async (event: string, payload: Payload) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${server.url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(HOOK_SECRET, body) }, body });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    return until('event matched', () => api<{ status: string; runs: { id: string; pipeline: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received');
  };
  const push = (after: string): Payload => {
    const payload = example('push');
    delete payload.installation;
    return { ...payload, ref: 'refs/heads/main', after, deleted: false, repository: { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops', clone_url: git.url('acme/ops') } };
  };
  const checkOf = (name: string, sha: string): CheckRunRecord[] => github.checkRuns.filter((r) => r.name === name && r.head_sha === sha);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-checks-'));
    git = await startGitServer();
    repo = await git.createRepo('acme/ops');
    await repo.write({ 'eventops/pipelines.yaml': PIPELINES, 'eventops/triggers.yaml': TRIGGERS, 'README.md': 'ops\n' });
    commit = await repo.commit('definitions');
    github = await startFakeGithub({ token: GH_TOKEN });
    const config = join(dir, 'eventops.yaml');
    await writeFile(
      config,
      [
        'server: { port: 0, host: 127.0.0.1, publicUrl: "http://eventops.test" }',
        `dataDir: ${join(dir, 'data')}`,
        `sources: [ { name: ops, url: "${git.url('acme/ops')}", ref: main, dir: eventops, interval: 1h } ]`,
        `github: { token: { secret: GH_TOKEN }, apiUrl: "${github.url}", webhookSecrets: [ { secret: GH_HOOK } ] }`,
        '',
      ].join('\n'),
    );
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_GH_TOKEN: GH_TOKEN, EVENTOPS_SECRET_GH_HOOK: HOOK_SECRET } });
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 3);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await github?.close();
    await git?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('a push: one check run per pipeline on the commit, queued or in progress, then completed with the right conclusion', async () => {
    const event = await deliver('push', push(commit));
    expect(event.runs.map((r) => r.pipeline).sort()).toEqual(['ci', 'lint']);
    const ci = event.runs.find((r) => r.pipeline === 'ci')!;
    const lint = event.runs.find((r) => r.pipeline === 'lint')!;
    await until('both check runs completed', () => github.checkRuns.filter((r) => r.head_sha === commit && r.status === 'completed' && r.name !== 'eventops/definitions').length, (n) => n === 2);

    const [ciCheck, ...moreCi] = checkOf('eventops/ci', commit);
    expect(moreCi).toHaveLength(0);
    expect(ciCheck).toMatchObject({ status: 'completed', conclusion: 'success', external_id: ci.id, details_url: `http://eventops.test/runs/${ci.id}` });
    // Created once (POST), then only PATCHed; the states never go backwards, and the run was seen running.
    expect(github.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/ops/check-runs' && (r.body as { name: string }).name === 'eventops/ci')).toHaveLength(1);
    const states = ciCheck!.history.map((h) => h.status as string);
    expect(states.at(-1)).toBe('completed');
    expect(states).toContain('in_progress');
    const order = ['queued', 'in_progress', 'completed'];
    expect(states.map((s) => order.indexOf(s))).toEqual([...states.map((s) => order.indexOf(s))].sort());
    expect(ciCheck!.output?.summary).toMatch(/\| build \| ✅ succeeded \| 1 \| \d/);
    expect(ciCheck!.output?.summary).toContain('| test | ✅ succeeded |');
    expect(ciCheck!.annotations).toEqual([]);

    const [lintCheck] = checkOf('eventops/lint', commit);
    expect(lintCheck).toMatchObject({ status: 'completed', conclusion: 'failure', external_id: lint.id });
    expect(lintCheck!.output?.title).toBe('lint: failed (1 failed)');
    expect(lintCheck!.output?.text).toContain('lint: 3 problems in src/app.ts');
    // The annotation points at the pipeline's document in the repository (the source's dir included).
    expect(lintCheck!.annotations).toEqual([{ path: 'eventops/pipelines.yaml', start_line: 12, end_line: 12, annotation_level: 'failure', title: 'task check failed', message: 'exit code 1' }]);
  });

  it('"Re-run" on a check run (check_run.rerequested) starts the pipeline again, with a check run of its own', async () => {
    const [ciCheck] = checkOf('eventops/ci', commit);
    const payload = example('check_run', 'rerequested');
    delete payload.installation;
    payload.repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops' };
    payload.check_run = { ...(payload.check_run as object), name: 'eventops/ci', external_id: ciCheck!.external_id, head_sha: commit };
    const event = await deliver('check_run', payload);
    expect(event.runs).toHaveLength(1);
    expect(event.runs[0]!.pipeline).toBe('ci');
    expect(event.runs[0]!.id).not.toBe(ciCheck!.external_id);
    await until('the re-run reported completed', () => checkOf('eventops/ci', commit).filter((r) => r.status === 'completed'), (runs) => runs.length === 2);
    expect(checkOf('eventops/ci', commit).map((r) => r.external_id).sort()).toEqual([ciCheck!.external_id, event.runs[0]!.id].sort());
  });

  it('GitHub answering 403 with retry-after: the runs go on unaffected, the check runs arrive later', async () => {
    await repo.write({ 'README.md': 'ops, again\n' });
    const second = await repo.commit('readme');
    github.fail({ method: 'POST', path: /\/check-runs$/, status: 403, headers: { 'retry-after': '1' }, body: { message: 'You have exceeded a secondary rate limit.' }, times: 10 });
    const started = Date.now();
    const event = await deliver('push', push(second));
    const lint = event.runs.find((r) => r.pipeline === 'lint')!;
    const run = await until('the lint run ended', () => api<{ status: string }>(`/api/v1/runs/${lint.id}`), (r) => !['pending', 'running'].includes(r.status));
    expect(run.status).toBe('failed');
    await until('both check runs completed', () => github.checkRuns.filter((r) => r.head_sha === second && r.status === 'completed' && r.name !== 'eventops/definitions').length, (n) => n === 2, 60_000);
    const creates = github.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/check-runs') && r.at >= started && (r.body as { name: string }).name !== 'eventops/definitions');
    // Refusals (ten in all, some taken by the definitions check), then one accepted create per run.
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(github.checkRuns.filter((r) => r.head_sha === second && r.name !== 'eventops/definitions')).toHaveLength(2);
    expect(checkOf('eventops/ci', second)).toHaveLength(1);
    expect(checkOf('eventops/lint', second)[0]).toMatchObject({ conclusion: 'failure' });
  }, 90_000);
});
