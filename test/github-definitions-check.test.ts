// The definitions check end to end: a real `eventops serve` process syncs repository acme/ops from
// a real git server, takes GitHub's published pull_request example payloads (opened,
// synchronize) signed and replayed through /webhooks/github, and reports `eventops/definitions`
// to a fake GitHub API: a PR that breaks a definition fails with the annotation at the right file
// and line while the active revision stays; a valid PR succeeds with the plan (added, changed,
// removed, the trigger change in words); a report whose PATCH failed is retried on the same check
// run; and the check's findings are the ones the reconciler records for the same commit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckRunRecord } from './helpers/fake-github.js';
import { startGithubStack, webhookExample, type GithubStack, type Payload } from './helpers/github-stack.js';

const CHECK = 'eventops/definitions';

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
  let stack: GithubStack;
  let main: string;
  let broken: string;
  let changed: string;
  let pullNumber = 40;

  /** GitHub's published pull_request example, moved to acme/ops with the given head. */
  const pullRequest = (action: 'opened' | 'synchronize', head: string, branch: string): Payload => {
    const payload = webhookExample('pull_request', action);
    delete payload.installation;
    const pr = payload.pull_request as Payload;
    const number = ++pullNumber;
    const repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops', clone_url: stack.git.url('acme/ops'), html_url: 'https://github.example/acme/ops' };
    return { ...payload, number, repository, pull_request: { ...pr, number, head: { ...(pr.head as object), sha: head, ref: branch }, base: { ...(pr.base as object), ref: 'main', repo: repository } } };
  };
  const checksOn = (sha: string): CheckRunRecord[] => stack.github.checkRuns.filter((r) => r.name === CHECK && r.head_sha === sha);
  const completedCheck = (sha: string) => stack.until(`${CHECK} completed on ${sha.slice(0, 7)}`, () => checksOn(sha), (runs) => runs.some((r) => r.status === 'completed')).then((runs) => runs[0]!);
  const creates = (sha: string) => stack.github.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/ops/check-runs' && (r.body as { name?: string; head_sha?: string }).name === CHECK && (r.body as { head_sha?: string }).head_sha === sha);

  beforeAll(async () => {
    stack = await startGithubStack({
      name: 'defcheck',
      files: { 'eventops/actuators.yaml': ACTUATORS, 'eventops/pipelines.yaml': MAIN_PIPELINES, 'eventops/triggers.yaml': triggers('push', 'refs/heads/main'), 'README.md': 'ops\n' },
      // Two pull request branches off main, pushed to the server; main does not move.
      prepare: async (repo) => {
        await repo.git('checkout', '-q', '-b', 'broken');
        await repo.write({ 'eventops/pipelines.yaml': BROKEN_PIPELINES });
        broken = await repo.commit('test needs a task that does not exist');
        await repo.git('checkout', '-q', 'main');
        await repo.git('checkout', '-q', '-b', 'change');
        await repo.write({ 'eventops/pipelines.yaml': CHANGED_PIPELINES, 'eventops/release.yaml': RELEASE, 'eventops/triggers.yaml': triggers('pull_request', 'refs/heads/release') });
        changed = await repo.commit('release pipeline, ci timeout, trigger on pull requests');
        await repo.git('checkout', '-q', 'main');
      },
    });
    main = stack.commit;
  }, 90_000);

  afterAll(() => stack?.close(), 60_000);

  it('a pull request that breaks a definition: failure, the annotation at its file and line; nothing applied', async () => {
    await stack.deliver('pull_request', pullRequest('opened', broken, 'broken'));
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
    const source = await stack.api<SourceView>('/api/v1/sources/ops');
    expect(source.activeRevision?.commit).toBe(main);
    expect(source.lastRevision?.commit).toBe(main);
  }, 60_000);

  it('a valid pull request: success, the plan of what merging would do; a report whose PATCH failed is retried on the same check run', async () => {
    // GitHub fails the first update of the check run: the job is retried and PATCHes the same one.
    stack.github.fail({ method: 'PATCH', path: /^\/repos\/acme\/ops\/check-runs\/\d+$/, status: 502, body: { message: 'Server Error' } });
    await stack.deliver('pull_request', pullRequest('synchronize', changed, 'change'));
    const check = await completedCheck(changed);
    expect(check).toMatchObject({ status: 'completed', conclusion: 'success' });
    expect(creates(changed)).toHaveLength(1);
    expect(checksOn(changed)).toHaveLength(1);
    const patches = stack.github.requests.filter((r) => r.method === 'PATCH' && r.path === `/repos/acme/ops/check-runs/${check.id}`);
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
    expect((await stack.api<SourceView>('/api/v1/sources/ops')).activeRevision?.commit).toBe(main);
  }, 60_000);

  it('the check finds what the reconciler finds: the broken commit merged is recorded invalid with the same findings', async () => {
    const [check] = checksOn(broken);
    await stack.repo.git('push', '-q', 'origin', `${broken}:refs/heads/main`);
    const result = await stack.api<{ outcome: string }>('/api/v1/sources/ops/reconcile?wait=true', { method: 'POST' });
    expect(result.outcome).toBe('invalid');
    const source = await stack.api<SourceView>('/api/v1/sources/ops');
    expect(source.activeRevision?.commit).toBe(main);
    expect(source.lastRevision).toMatchObject({ commit: broken, status: 'invalid' });
    const annotations = check!.annotations as { path: string; start_line: number; start_column: number; title: string; message: string }[];
    expect(annotations.map((a) => ({ file: a.path, line: a.start_line, column: a.start_column, rule: /\[(.+)\]$/.exec(a.title)?.[1], message: a.message }))).toEqual(source.lastRevision!.errors);
  }, 60_000);
});
