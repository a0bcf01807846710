// `eventops test-event` run in-process: the template's sample events against the template's
// definitions, a folder whose trigger a filter stops, invalid definitions, and usage errors.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from './main.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

async function eventops(argv: string[], cwd = repo): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s), cwd, env: {} });
  return { code, stdout, stderr };
}

const TEMPLATE = ['--definitions', 'definitions-template'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eventops-test-event-'));
  await writeFile(
    join(dir, 'defs.yaml'),
    `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: deploy }
spec:
  inputs:
    - { name: env, enum: [staging, prod], required: true }
    - { name: sha, required: true }
  tasks: [ { name: go, commands: [ "echo go" ] } ]
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: main-only }
spec:
  event: { source: api, type: deploy.requested }
  filters:
    - { path: labels.env, value: [staging, prod] }
    - { path: body.ref, value: [refs/heads/main] }
  pipelines:
    - { name: deploy, inputs: { env: "\${{ event.labels.env }}", sha: "\${{ event.body.sha }}" } }
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: any-env }
spec:
  event: { source: api, type: deploy.requested }
  pipelines:
    - { name: deploy, inputs: { env: "\${{ event.labels.env }}", sha: "\${{ event.body.sha }}" } }
`,
  );
  await writeFile(join(dir, 'event.yaml'), 'apiVersion: eventops.dev/v1\nkind: Event\ntype: deploy.requested\nlabels: { env: qa }\nbody: { ref: refs/heads/dev, sha: 3f9c2e1 }\n');
  await writeFile(join(dir, 'cloudevent.json'), JSON.stringify({ specversion: '1.0', id: 'x-1', source: '/ci', type: 'deploy.requested', data: { ref: 'refs/heads/main', sha: 'abc1234' } }));
  await writeFile(join(dir, 'not-an-event.json'), JSON.stringify({ ref: 'refs/heads/main', commits: [] }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('eventops test-event on the template', () => {
  it('deploy-requested.yaml starts build-test-deploy with its inputs and dedupe key', async () => {
    const { code, stdout, stderr } = await eventops(['test-event', '-f', 'definitions-template/events/deploy-requested.yaml', ...TEMPLATE]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('event: source api, type deploy.requested, subject services.payments\n');
    expect(stdout).toMatch(/^deploy-requested\s+matched\s+all 2 filters hold$/m);
    expect(stdout).toContain('    ✓ filters[1] body.sha: "3f9c2e1" matches "^[0-9a-f]{7,40}$"\n');
    expect(stdout).toMatch(/^hello\s+not-candidate\s+listens to type hello; the event's type is deploy\.requested$/m);
    expect(stdout).toMatch(/^nightly\s+not-candidate\s+fires on its schedule \(0 3 \* \* \*\) only; this event is not one of its ticks$/m);
    expect(stdout).toContain('would start 1 run:\n  build-test-deploy (trigger deploy-requested, dedupe key "staging/3f9c2e1")\n    ref        "3f9c2e1"\n    env        "staging"\n    run-tests  true\n');
    expect(stdout).toMatch(/✓ 1 of 5 triggers matched\n$/);
  });

  it('hello.yaml greets the name from the body', async () => {
    const { code, stdout } = await eventops(['test-event', '-f', 'definitions-template/events/hello.yaml', ...TEMPLATE]);
    expect(code).toBe(0);
    expect(stdout).toContain('  hello-world (trigger hello)\n    greeting  "Hello"\n    name      "platform team"\n');
  });

  it('github-push.yaml arrives with source api and matches nothing, with a hint; as a GitHub push it builds', async () => {
    const asApi = await eventops(['test-event', '-f', 'definitions-template/events/github-push.yaml', ...TEMPLATE]);
    expect(asApi.code).toBe(1);
    expect(asApi.stdout).toMatch(/^build-on-push\s+not-candidate\s+listens to source github; the event's source is api$/m);
    expect(asApi.stdout).toContain('✗ none of 5 triggers matched\n  (an Event file arrives with source api; to test it as a GitHub webhook, add --github-event NAME');

    const asGithub = await eventops(['test-event', '-f', 'definitions-template/events/github-push.yaml', '--github-event', 'push', ...TEMPLATE]);
    expect(asGithub.code).toBe(0);
    expect(asGithub.stdout).toMatch(/^build-on-push\s+matched\s+all 2 filters hold$/m);
    expect(asGithub.stdout).toContain('    ✓ filters[1] `size(body.commits) > 0` is true\n');
    expect(asGithub.stdout).toContain('    ref        "3f9c2e1a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e"\n');
  });

  it('prints the match as data with -o json and -o yaml', async () => {
    const json = await eventops(['test-event', '-f', 'definitions-template/events/deploy-requested.yaml', '-o', 'json', ...TEMPLATE]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { matched: number; event: { source: string; labels: Record<string, string> }; verdicts: { trigger: string; verdict: string }[]; runs: { pipeline: string; inputs: Record<string, unknown>; dedupeKey: string }[] };
    expect(report.matched).toBe(1);
    expect(report.event).toMatchObject({ source: 'api', labels: { env: 'staging' } });
    expect(report.verdicts.map((v) => v.trigger)).toEqual(['build-on-push', 'deploy-command', 'deploy-requested', 'hello', 'nightly']);
    expect(report.runs).toEqual([expect.objectContaining({ pipeline: 'build-test-deploy', inputs: { ref: '3f9c2e1', env: 'staging', 'run-tests': true }, dedupeKey: 'staging/3f9c2e1' })]);
    const yaml = await eventops(['test-event', '-f', 'definitions-template/events/deploy-requested.yaml', '--output', 'yaml', ...TEMPLATE]);
    const fromYaml = parse(yaml.stdout) as typeof report;
    expect({ ...fromYaml, event: undefined }).toEqual({ ...report, event: undefined });
  });
});

describe('eventops test-event on a folder', () => {
  it('names the failing filter and the failing input, and exits 1 when nothing matched', async () => {
    const { code, stdout } = await eventops(['test-event', '-f', 'event.yaml'], dir);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^main-only\s+filtered\s+filters\[0\] labels\.env: "qa" is not one of \["staging", "prod"\]$/m);
    expect(stdout).toMatch(/^any-env\s+inputs-failed\s+pipeline deploy: input env: "qa" is not one of \["staging", "prod"\]$/m);
    expect(stdout).not.toContain('would start');
    expect(stdout).toMatch(/✗ none of 2 triggers matched \(1 trigger failed on inputs\)\n$/);
    expect(stdout).not.toContain('--github-event');
  });

  it('reads a CloudEvents envelope in JSON', async () => {
    const { code, stdout } = await eventops(['test-event', '--file', 'cloudevent.json', '--definitions', '.', '-o', 'json'], dir);
    const report = JSON.parse(stdout) as { event: { headers: Record<string, string> }; verdicts: { trigger: string; verdict: string; reason: string }[] };
    expect(report.event.headers['ce-source']).toBe('/ci');
    expect(report.verdicts.map((v) => [v.trigger, v.verdict, v.reason])).toEqual([
      ['any-env', 'inputs-failed', expect.stringMatching(/^pipeline deploy: input env: .*env/)],
      ['main-only', 'filtered', 'filters[0] labels.env: missing, so not one of ["staging", "prod"]'],
    ]);
    expect(code).toBe(1);
  });

  it('reports invalid definitions the way validate does and exits 1', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'eventops-test-event-bad-'));
    try {
      await writeFile(join(bad, 't.yaml'), 'apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: t }\nspec:\n  event: { source: gitlab }\n  pipelines: [ { name: nope } ]\n');
      const { code, stdout } = await eventops(['test-event', '-f', join(dir, 'event.yaml'), '--definitions', bad], bad);
      expect(code).toBe(1);
      expect(stdout).toContain('t.yaml:5:20: error: unknown event source "gitlab"');
      expect(stdout).toMatch(/✗ 1 file, 1 definition: 2 errors, 0 warnings; fix the definitions before testing events\n$/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it('exits 2 when called wrongly or given something that is not an event', async () => {
    expect((await eventops(['test-event'], dir)).code).toBe(2);
    const missing = await eventops(['test-event', '-f', 'nope.yaml'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^eventops: nope\.yaml: no such file$/m);
    const raw = await eventops(['test-event', '-f', 'not-an-event.json'], dir);
    expect(raw.code).toBe(2);
    expect(raw.stderr).toContain('not-an-event.json: an event has the fields apiVersion, kind, id, type, subject, labels, body; not `ref`, `commits` (for a raw GitHub payload, say which event it is: --github-event NAME)');
    expect((await eventops(['test-event', '-f', 'event.yaml', '--definitions', 'no/such/dir'], dir)).code).toBe(2);
    expect((await eventops(['test-event', '-f', 'event.yaml', '-o', 'xml'], dir)).code).toBe(2);
  });
});
