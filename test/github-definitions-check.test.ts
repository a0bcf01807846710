// The definitions check end to end: a real `eventops serve` process syncs repository acme/ops from
// a real git server, takes GitHub's published pull_request example payloads (opened,
// synchronize) signed and replayed through /webhooks/github, and reports `eventops/definitions`
// to a fake GitHub API: a PR that breaks a definition fails with the annotation at the right file
// and line while the active revision stays; a valid PR succeeds with the plan (added, changed,
// removed, the trigger change in words); a report whose PATCH failed is retried on the same check
// run; and the check's findings are the ones the reconciler records for the same commit.
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

const HOOK_SECRET = 'gh-hook-secret-d3f';
const GH_TOKEN = 'ghs_fake_installation_token_d3f';
const CHECK = 'eventops/definitions';

type Payload = Record<string, unknown>;
const example = (event: string, action: string): Payload => {
  const list = (examples as unknown as { name: string; examples: Payload[] }[]).find((d) => d.name === event)?.examples ?? [];
  const found = list.find((e) => e.action === action);
  if (!found) throw new Error(`no published example of ${event}.${action}`);
  return structuredClone(found);
};

const ACTUATORS = `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: here }
spec: { local: {} }
`;
const pipelines = (ci: { commands: string; needs: string; timeout?: string }, withOldReport: boolean) => `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: ci }
spec:
${ci.timeout ? `  timeout: ${ci.timeout}\n` : ''}  tasks:
    - name: build
      commands: ${ci.commands}
    - name: test
      needs: ${ci.needs}
      commands: [ "echo tests pass" ]
${withOldReport ? `---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: old-report }
spec:
  tasks:
    - name: report
      commands: [ "echo report" ]
` : ''}`;
const MAIN_PIPELINES = pipelines({ commands: '[ "echo building" ]', needs: '[build]' }, true);
const BROKEN_PIPELINES = pipelines({ commands: '[ "echo building" ]', needs: '[compile]' }, true);
const CHANGED_PIPELINES = pipelines({ commands: '[ "echo building", "npm run build" ]', needs: '[build]', timeout: '30m' }, false);
const triggers = (type: string, ref: string) => `apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: deploy-on-main }
spec:
  event: { source: github, type: ${type} }
  filters:
    - { path: body.ref, value: [ "${ref}" ] }
  pipelines: [ { name: ci } ]
`;
const RELEASE = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: release }
spec:
  tasks:
    - name: tag
      commands: [ "echo tagging" ]
`;

interface SourceView {
  activeRevision: { commit: string } | null;
  lastRevision: { commit: string; status: string; errors: { file: string; line: number; column: number; rule: string; message: string }[] } | null;
}

describe('GitHub: the definitions check', () => {
  let dir: string;
  let git: GitServer;
  let repo: TestRepo;
  let github: FakeGithub;
  let server: ServerProcess;
  let main: string;
  let broken: string;
  let changed: string;
  let pullNumber = 40;

  const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}` } });
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
    return until('event matched', () => api<{ status: string }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received');
  };
  /** GitHub's published pull_request example, moved to acme/ops with the given head. */
  const pullRequest = (action: 'opened' | 'synchronize', head: string, branch: string): Payload => {
    const payload = example('pull_request', action);
    delete payload.installation;
    const pr = payload.pull_request as Payload;
    const number = ++pullNumber;
    const repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops', clone_url: git.url('acme/ops'), html_url: 'https://github.example/acme/ops' };
    return { ...payload, number, repository, pull_request: { ...pr, number, head: { ...(pr.head as object), sha: head, ref: branch }, base: { ...(pr.base as object), ref: 'main', repo: repository } } };
  };
  const checksOn = (sha: string): CheckRunRecord[] => github.checkRuns.filter((r) => r.name === CHECK && r.head_sha === sha);
  const completedCheck = (sha: string) => until(`${CHECK} completed on ${sha.slice(0, 7)}`, () => checksOn(sha), (runs) => runs.some((r) => r.status === 'completed')).then((runs) => runs[0]!);
  const creates = (sha: string) => github.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/ops/check-runs' && (r.body as { name?: string; head_sha?: string }).name === CHECK && (r.body as { head_sha?: string }).head_sha === sha);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-defcheck-'));
    git = await startGitServer();
    repo = await git.createRepo('acme/ops');
    await repo.write({ 'eventops/actuators.yaml': ACTUATORS, 'eventops/pipelines.yaml': MAIN_PIPELINES, 'eventops/triggers.yaml': triggers('push', 'refs/heads/main'), 'README.md': 'ops\n' });
    main = await repo.commit('definitions');
    // Two pull request branches off main, pushed to the server; main does not move.
    await repo.git('checkout', '-q', '-b', 'broken');
    await repo.write({ 'eventops/pipelines.yaml': BROKEN_PIPELINES });
    broken = await repo.commit('test needs a task that does not exist');
    await repo.git('checkout', '-q', 'main');
    await repo.git('checkout', '-q', '-b', 'change');
    await repo.write({ 'eventops/pipelines.yaml': CHANGED_PIPELINES, 'eventops/release.yaml': RELEASE, 'eventops/triggers.yaml': triggers('pull_request', 'refs/heads/release') });
    changed = await repo.commit('release pipeline, ci timeout, trigger on pull requests');
    await repo.git('checkout', '-q', 'main');
    github = await startFakeGithub({ token: GH_TOKEN });
    const config = join(dir, 'eventops.yaml');
    await writeFile(
      config,
      [
        'server: { port: 0, host: 127.0.0.1 }',
        `dataDir: ${join(dir, 'data')}`,
        `sources: [ { name: ops, url: "${git.url('acme/ops')}", ref: main, dir: eventops, interval: 1h } ]`,
        `github: { token: { secret: GH_TOKEN }, apiUrl: "${github.url}", webhookSecrets: [ { secret: GH_HOOK } ] }`,
        '',
      ].join('\n'),
    );
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_GH_TOKEN: GH_TOKEN, EVENTOPS_SECRET_GH_HOOK: HOOK_SECRET } });
    await until('main applied', () => api<SourceView>('/api/v1/sources/ops'), (s) => s.activeRevision?.commit === main);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await github?.close();
    await git?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('a pull request that breaks a definition: failure, the annotation at its file and line; nothing applied', async () => {
    await deliver('pull_request', pullRequest('opened', broken, 'broken'));
    const check = await completedCheck(broken);
    expect(check).toMatchObject({ status: 'completed', conclusion: 'failure' });
    // Created in progress, then completed: one check run, made by one POST.
    expect(check.history[0]).toMatchObject({ status: 'in_progress' });
    expect(creates(broken)).toHaveLength(1);
    const needsLine = BROKEN_PIPELINES.split('\n').findIndex((l) => l.includes('needs: [compile]')) + 1;
    expect(check.annotations).toHaveLength(1);
    expect(check.annotations[0]).toMatchObject({ path: 'eventops/pipelines.yaml', start_line: needsLine, end_line: needsLine, annotation_level: 'failure' });
    expect((check.annotations[0] as { message: string }).message).toContain('compile');
    expect(check.output?.title).toBe('1 error: not applied if merged');
    expect(check.output?.summary).toContain(`revision \`${main.slice(0, 12)}\` stays active`);
    // eventops itself still runs main, and did not even record the PR's commit as a revision.
    const source = await api<SourceView>('/api/v1/sources/ops');
    expect(source.activeRevision?.commit).toBe(main);
    expect(source.lastRevision?.commit).toBe(main);
  }, 60_000);

  it('a valid pull request: success, the plan of what merging would do; a report whose PATCH failed is retried on the same check run', async () => {
    // GitHub fails the first update of the check run: the job is retried and PATCHes the same one.
    github.fail({ method: 'PATCH', path: /^\/repos\/acme\/ops\/check-runs\/\d+$/, status: 502, body: { message: 'Server Error' } });
    await deliver('pull_request', pullRequest('synchronize', changed, 'change'));
    const check = await completedCheck(changed);
    expect(check).toMatchObject({ status: 'completed', conclusion: 'success' });
    expect(creates(changed)).toHaveLength(1);
    expect(checksOn(changed)).toHaveLength(1);
    const patches = github.requests.filter((r) => r.method === 'PATCH' && r.path === `/repos/acme/ops/check-runs/${check.id}`);
    expect(patches.length).toBe(2);
    expect(check.annotations).toEqual([]);
    expect(check.output?.title).toBe('Valid: 1 added, 2 changed, 1 removed');
    const summary = check.output?.summary ?? '';
    expect(summary).toContain(`**Plan** (against the active revision \`${main.slice(0, 12)}\`): merging would add 1, change 2 and remove 1; 1 unchanged.`);
    expect(summary).toContain('- ➕ Pipeline `release` — eventops/release.yaml:1');
    expect(summary).toContain('- ✏️ Pipeline `ci` — `spec.tasks[build].commands`; `spec.timeout` added `30m`');
    expect(summary).toContain(`- ➖ Pipeline \`old-report\` — was eventops/pipelines.yaml:${MAIN_PIPELINES.split('\n').indexOf('---') + 2}`);
    expect(summary).toContain('- ✏️ Trigger `deploy-on-main` — `spec.event.type` `push` → `pull_request`; `spec.filters`');
    expect(summary).toContain('- trigger deploy-on-main: event.type push → pull_request; filters changed: + body.ref in [refs/heads/release], − body.ref in [refs/heads/main]');
    expect((await api<SourceView>('/api/v1/sources/ops')).activeRevision?.commit).toBe(main);
  }, 60_000);

  it('the check finds what the reconciler finds: the broken commit merged is recorded invalid with the same findings', async () => {
    const [check] = checksOn(broken);
    await repo.git('push', '-q', 'origin', `${broken}:refs/heads/main`);
    const result = await api<{ outcome: string }>('/api/v1/sources/ops/reconcile?wait=true', { method: 'POST' });
    expect(result.outcome).toBe('invalid');
    const source = await api<SourceView>('/api/v1/sources/ops');
    expect(source.activeRevision?.commit).toBe(main);
    expect(source.lastRevision).toMatchObject({ commit: broken, status: 'invalid' });
    const annotations = check!.annotations as { path: string; start_line: number; start_column: number; title: string; message: string }[];
    expect(annotations.map((a) => ({ file: a.path, line: a.start_line, column: a.start_column, rule: /\[(.+)\]$/.exec(a.title)?.[1], message: a.message }))).toEqual(source.lastRevision!.errors);
  }, 60_000);
});
