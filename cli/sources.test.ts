// `eventops sources list|get|reconcile` against the real HTTP API on a free port over a seeded
// PostgreSQL database, run in-process with captured output and an injected environment that
// carries the fixture's admin token (how the CLI finds a token: cli/tokens.test.ts).
import { createServer } from 'node:net';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMITS, startApiFixture, type ApiFixture } from '../test/helpers/api-fixture.js';
import type { SourceDetail, SourceSummary } from '../webhooks/index.js';
import { DEFAULT_SERVER, resolveServer } from './api-client.js';
import { run } from './main.js';

let api: ApiFixture;
beforeAll(async () => {
  api = await startApiFixture();
});
afterAll(async () => {
  await api?.close();
});

async function eventops(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s), cwd: process.cwd(), env: { EVENTOPS_TOKEN: api.tokens.admin, ...env } });
  return { code, stdout, stderr };
}

/** A port nothing listens on: bound once to get it, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('eventops sources list', () => {
  it('prints a table with readiness, short revision, age and the Ready message', async () => {
    const { code, stdout, stderr } = await eventops(['sources', 'list', '--server', api.url]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+READY\s+REVISION\s+LAST ATTEMPT\s+MESSAGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['fresh', 'local', 'ops']);
    expect(lines[1]).toMatch(/^fresh\s+git\s+Unknown\s+-\s+never$/);
    expect(lines[2]).toMatch(/^local\s+local\s+True\s+5f70bf18a086\s+\d+d ago\s+revision sha256:5f70bf18a086 applied: 1 definition$/);
    expect(lines[3]).toMatch(/^ops\s+git\s+False\s+9b2e7f00c1d2\s+\d+d ago\s+revision 3c1f0e9d8c7b has 1 invalid file; revision 9b2e7f00…$/);
  });

  it('prints the API items with -o json and -o yaml', async () => {
    const json = await eventops(['sources', 'list', '-o', 'json', '--server', api.url]);
    expect(json.code).toBe(0);
    const items = JSON.parse(json.stdout) as SourceSummary[];
    expect(items.map((s) => [s.name, s.ready, s.activeRevision?.commit ?? null])).toEqual([
      ['fresh', 'Unknown', null],
      ['local', 'True', COMMITS.local],
      ['ops', 'False', COMMITS.active],
    ]);
    const yaml = await eventops(['sources', 'list', '--output', 'yaml', '--server', api.url]);
    expect(parse(yaml.stdout)).toEqual(items);
  });
});

describe('eventops sources get', () => {
  it('prints status, every error as file:line:column, history, and exits 1 when not Ready', async () => {
    const { code, stdout } = await eventops(['sources', 'get', 'ops', '--server', api.url]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^Name:\s+ops$/m);
    expect(stdout).toMatch(/^Location:\s+https:\/\/github\.com\/acme\/ops-defs\.git$/m);
    expect(stdout).toMatch(/^Ref:\s+main$/m);
    expect(stdout).toMatch(/^Dir:\s+eventops\/$/m);
    expect(stdout).toMatch(/^Ready:\s+False \(ValidationFailed\)$/m);
    expect(stdout).toContain(`${COMMITS.active}, applied 2025-05-01T10:00:00.000Z: 4 files, 4 definitions, 1 warning`);
    expect(stdout).toContain(`${COMMITS.invalid}, invalid 2025-05-01T10:02:00.000Z: 1 error, 1 warning`);
    expect(stdout).toMatch(/^ {2}ValidationFailed\s+True\s+ValidationFailed\s+1 error in pipelines\/build\.yaml$/m);
    expect(stdout).toContain('\n  pipelines/build.yaml:12:7: error: unknown field "comands" (did you mean "commands"?) [unknown-field]\n');
    expect(stdout).toContain('\n  triggers/push.yaml:3:1: warning: converted from the original eventops format [legacy-format]\n');
    expect(stdout).toMatch(/^ {2}2025-05-01T10:02:00\.000Z\s+invalid\s+3c1f0e9d8c7b\s+ValidationFailed\s+1 error in pipelines\/build\.yaml$/m);
    expect(stdout).toMatch(/^ {2}2025-05-01T10:00:00\.000Z\s+applied\s+9b2e7f00c1d2\s+Succeeded\s+applied 4 definitions$/m);
  });

  it('exits 0 for a Ready source and prints the detail as JSON with -o json', async () => {
    expect((await eventops(['sources', 'get', 'local', '--server', api.url])).code).toBe(0);
    const { code, stdout } = await eventops(['sources', 'get', 'ops', '-o', 'json', '--server', api.url]);
    expect(code).toBe(1);
    const detail = JSON.parse(stdout) as SourceDetail;
    expect(detail.lastRevision?.errors).toEqual([{ file: 'pipelines/build.yaml', line: 12, column: 7, rule: 'unknown-field', message: 'unknown field "comands" (did you mean "commands"?)' }]);
    expect(detail.revisions).toHaveLength(3);
  });

  it('says so and exits 1 for an unknown source', async () => {
    const { code, stdout, stderr } = await eventops(['sources', 'get', 'nope', '--server', api.url]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('eventops: no source named "nope"\n');
  });
});

describe('eventops sources reconcile', () => {
  it('asks for a reconcile and returns at once without --wait', async () => {
    const before = api.reconciler.calls.length;
    const { code, stdout } = await eventops(['sources', 'reconcile', 'local', '--server', api.url]);
    expect(code).toBe(0);
    expect(stdout).toBe('reconcile of local requested\n');
    expect(api.reconciler.calls.slice(before)).toEqual(['local']);
  });

  it('prints the outcome with --wait and exits 0 only for applied or unchanged', async () => {
    api.reconciler.next = async (source) => ({
      source,
      outcome: 'applied',
      revision: COMMITS.active,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'revision 9b2e7f00c1d2 applied: 4 definitions', lastTransitionTime: '2025-05-01T10:00:00.000Z' }],
      durationMs: 12,
    });
    const applied = await eventops(['sources', 'reconcile', 'ops', '--wait', '--server', api.url]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toBe('reconcile of ops: applied (revision 9b2e7f00c1d2) in 12 ms\nReady: True (Succeeded): revision 9b2e7f00c1d2 applied: 4 definitions\n');

    api.reconciler.next = async (source) => ({
      source,
      outcome: 'invalid',
      revision: COMMITS.invalid,
      conditions: [{ type: 'Ready', status: 'False', reason: 'ValidationFailed', message: '1 error in pipelines/build.yaml', lastTransitionTime: '2025-05-01T10:02:00.000Z' }],
      durationMs: 40,
    });
    const invalid = await eventops(['sources', 'reconcile', 'ops', '--wait', '--server', api.url]);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain('reconcile of ops: invalid (revision 3c1f0e9d8c7b)');
    expect(invalid.stdout).toContain('Ready: False (ValidationFailed): 1 error in pipelines/build.yaml');

    const json = await eventops(['sources', 'reconcile', 'ops', '--wait', '-o', 'json', '--server', api.url]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ source: 'ops', outcome: 'invalid', revision: COMMITS.invalid, durationMs: 40 });
  });

  it('prints the JSON answer without --wait and -o json', async () => {
    const { code, stdout } = await eventops(['sources', 'reconcile', 'ops', '-o', 'json', '--server', api.url]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ accepted: true, source: 'ops' });
  });

  it('exits 1 with the server message for a source that is not configured', async () => {
    const { code, stderr } = await eventops(['sources', 'reconcile', 'nope', '--wait', '--server', api.url]);
    expect(code).toBe(1);
    expect(stderr).toBe('reconciling nope…\neventops: no source named "nope"\n');
  });
});

describe('choosing the server', () => {
  it('explains how to start or point at a server when none answers, and exits 1', async () => {
    const port = await closedPort();
    const { code, stderr } = await eventops(['sources', 'list', '--server', `http://127.0.0.1:${port}`]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `eventops: cannot reach the eventops server at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (start it with \`eventops serve\`, or set --server / EVENTOPS_SERVER)\n`,
    );
  });

  it('uses EVENTOPS_SERVER from the environment, and --server over it', async () => {
    const viaEnv = await eventops(['sources', 'get', 'local'], { EVENTOPS_SERVER: api.url });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stdout).toMatch(/^Name:\s+local$/m);
    const port = await closedPort();
    const overridden = await eventops(['sources', 'get', 'local', '--server', api.url], { EVENTOPS_SERVER: `http://127.0.0.1:${port}` });
    expect(overridden.code).toBe(0);
    const envOnly = await eventops(['sources', 'get', 'local'], { EVENTOPS_SERVER: `http://127.0.0.1:${port}` });
    expect(envOnly.stderr).toContain(`cannot reach the eventops server at http://127.0.0.1:${port}`);
  });

  it('defaults to http://127.0.0.1:8080 and calls a malformed URL a usage error (exit 2)', async () => {
    expect(resolveServer(undefined, {})).toBe(DEFAULT_SERVER);
    expect(resolveServer(undefined, { EVENTOPS_SERVER: 'http://ops.internal:9000/' })).toBe('http://ops.internal:9000');
    const bad = await eventops(['sources', 'list', '--server', 'not a url']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('eventops: the server must be a URL like http://127.0.0.1:8080 (got "not a url")\n');
  });
});
