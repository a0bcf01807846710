// Check runs end to end: a real `eventops serve` process syncs definitions from a real git server
// (repository acme/ops), takes GitHub's published push and check_run example payloads, signed and
// replayed through /webhooks/github, runs the pipelines, and reports to a fake GitHub API (a real
// HTTP server that records every call): one check run per run, created, updated, completed with
// the right conclusion, a task table, a failed task's log and an annotation on its pipeline file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckRunRecord } from './helpers/fake-github.js';
import { startGithubStack, webhookExample, type GithubStack, type Payload } from './helpers/github-stack.js';

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
  let stack: GithubStack;

  const push = (after: string): Payload => {
    const payload = webhookExample('push');
    delete payload.installation;
    return { ...payload, ref: 'refs/heads/main', after, deleted: false, repository: { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops', clone_url: stack.git.url('acme/ops') } };
  };
  const checkOf = (name: string, sha: string): CheckRunRecord[] => stack.github.checkRuns.filter((r) => r.name === name && r.head_sha === sha);

  beforeAll(async () => {
    stack = await startGithubStack({ name: 'checks', files: { 'eventops/pipelines.yaml': PIPELINES, 'eventops/triggers.yaml': TRIGGERS, 'README.md': 'ops\n' }, publicUrl: 'http://eventops.test' });
  }, 90_000);

  afterAll(() => stack?.close(), 60_000);

  it('a push: one check run per pipeline on the commit, queued or in progress, then completed with the right conclusion', async () => {
    const event = await stack.deliver('push', push(stack.commit));
    expect(event.runs.map((r) => r.pipeline).sort()).toEqual(['ci', 'lint']);
    const ci = event.runs.find((r) => r.pipeline === 'ci')!;
    const lint = event.runs.find((r) => r.pipeline === 'lint')!;
    await stack.until('both check runs completed', () => stack.github.checkRuns.filter((r) => r.head_sha === stack.commit && r.status === 'completed' && r.name !== 'eventops/definitions').length, (n) => n === 2);

    const [ciCheck, ...moreCi] = checkOf('eventops/ci', stack.commit);
    expect(moreCi).toHaveLength(0);
    expect(ciCheck).toMatchObject({ status: 'completed', conclusion: 'success', external_id: ci.id, details_url: `http://eventops.test/runs/${ci.id}` });
    // Created once (POST), then only PATCHed; the states never go backwards, and the run was seen running.
    expect(stack.github.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/ops/check-runs' && (r.body as { name: string }).name === 'eventops/ci')).toHaveLength(1);
    const states = ciCheck!.history.map((h) => h.status as string);
    expect(states.at(-1)).toBe('completed');
    expect(states).toContain('in_progress');
    const order = ['queued', 'in_progress', 'completed'];
    expect(states.map((s) => order.indexOf(s))).toEqual([...states.map((s) => order.indexOf(s))].sort());
    expect(ciCheck!.output?.summary).toMatch(/\| build \| ✅ succeeded \| 1 \| \d/);
    expect(ciCheck!.output?.summary).toContain('| test | ✅ succeeded |');
    expect(ciCheck!.annotations).toEqual([]);

    const [lintCheck] = checkOf('eventops/lint', stack.commit);
    expect(lintCheck).toMatchObject({ status: 'completed', conclusion: 'failure', external_id: lint.id });
    expect(lintCheck!.output?.title).toBe('lint: failed (1 failed)');
    expect(lintCheck!.output?.text).toContain('lint: 3 problems in src/app.ts');
    // The annotation points at the pipeline's document in the repository (the source's dir included).
    expect(lintCheck!.annotations).toEqual([{ path: 'eventops/pipelines.yaml', start_line: 12, end_line: 12, annotation_level: 'failure', title: 'task check failed', message: 'exit code 1' }]);
  });

  it('"Re-run" on a check run (check_run.rerequested) starts the pipeline again, with a check run of its own', async () => {
    const [ciCheck] = checkOf('eventops/ci', stack.commit);
    const payload = webhookExample('check_run', 'rerequested');
    delete payload.installation;
    payload.repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops' };
    payload.check_run = { ...(payload.check_run as object), name: 'eventops/ci', external_id: ciCheck!.external_id, head_sha: stack.commit };
    const event = await stack.deliver('check_run', payload);
    expect(event.runs).toHaveLength(1);
    expect(event.runs[0]!.pipeline).toBe('ci');
    expect(event.runs[0]!.id).not.toBe(ciCheck!.external_id);
    await stack.until('the re-run reported completed', () => checkOf('eventops/ci', stack.commit).filter((r) => r.status === 'completed'), (runs) => runs.length === 2);
    expect(checkOf('eventops/ci', stack.commit).map((r) => r.external_id).sort()).toEqual([ciCheck!.external_id, event.runs[0]!.id].sort());
  });

  it('GitHub answering 403 with retry-after: the runs go on unaffected, the check runs arrive later', async () => {
    await stack.repo.write({ 'README.md': 'ops, again\n' });
    const second = await stack.repo.commit('readme');
    stack.github.fail({ method: 'POST', path: /\/check-runs$/, status: 403, headers: { 'retry-after': '1' }, body: { message: 'You have exceeded a secondary rate limit.' }, times: 10 });
    const started = Date.now();
    const event = await stack.deliver('push', push(second));
    const lint = event.runs.find((r) => r.pipeline === 'lint')!;
    const run = await stack.until('the lint run ended', () => stack.api<{ status: string }>(`/api/v1/runs/${lint.id}`), (r) => !['pending', 'running'].includes(r.status));
    expect(run.status).toBe('failed');
    await stack.until('both check runs completed', () => stack.github.checkRuns.filter((r) => r.head_sha === second && r.status === 'completed' && r.name !== 'eventops/definitions').length, (n) => n === 2, 60_000);
    const creates = stack.github.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/check-runs') && r.at >= started && (r.body as { name: string }).name !== 'eventops/definitions');
    // Refusals (ten in all, some taken by the definitions check), then one accepted create per run.
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(stack.github.checkRuns.filter((r) => r.head_sha === second && r.name !== 'eventops/definitions')).toHaveLength(2);
    expect(checkOf('eventops/ci', second)).toHaveLength(1);
    expect(checkOf('eventops/lint', second)[0]).toMatchObject({ conclusion: 'failure' });
  }, 90_000);
});
