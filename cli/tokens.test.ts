// `eventops tokens create|list` and how every API command finds its token (--token,
// EVENTOPS_TOKEN, `<cwd>/.eventops/admin-token`), against the real HTTP API over a seeded
// PostgreSQL database, run in-process with captured output and an injected environment.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiFixture, type ApiFixture } from '../test/helpers/api-fixture.js';
import type { TokenInfo } from '../webhooks/index.js';
import { run } from './main.js';

let api: ApiFixture;
let dir: string;
beforeAll(async () => {
  api = await startApiFixture();
  dir = await mkdtemp(join(tmpdir(), 'eventops-cli-tokens-'));
});
afterAll(async () => {
  await api?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs in `cwd` (default: an empty folder, so no admin-token file is found by accident). */
async function eventops(argv: string[], env: Record<string, string | undefined>, cwd = dir): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s), cwd, env: { EVENTOPS_SERVER: api.url, ...env } });
  return { code, stdout, stderr };
}

const asAdmin = () => ({ EVENTOPS_TOKEN: api.tokens.admin });

/** A folder laid out like the one `eventops serve` ran in: `.eventops/admin-token` (or under `dataDir`). */
async function serverFolder(name: string, token: string, dataDir = '.eventops'): Promise<string> {
  const folder = join(dir, name);
  await mkdir(join(folder, dataDir), { recursive: true });
  await writeFile(join(folder, dataDir, 'admin-token'), `${token}\n`, { mode: 0o600 });
  return folder;
}

describe('eventops tokens create', () => {
  it('prints the token alone on stdout, and the token works for its scopes', async () => {
    const { code, stdout, stderr } = await eventops(['tokens', 'create', '--name', 'ci', '--scopes', 'events:write, runs:write'], asAdmin());
    expect(code).toBe(0);
    expect(stdout).toMatch(/^eo_[A-Za-z0-9_-]{43}\n$/);
    expect(stderr).toBe('token ci (events:write, runs:write) created; it is shown only this once\n');
    const token = stdout.trim();
    expect((await eventops(['sources', 'list', '--token', token], {})).code).toBe(0);
    const reconcile = await eventops(['sources', 'reconcile', 'ops', '--token', token], {});
    expect(reconcile.code).toBe(1);
    expect(reconcile.stderr).toBe('eventops: POST /api/v1/sources/ops/reconcile needs a token with the admin scope; the token "ci" has events:write, runs:write (ask an admin for a token with that scope: `eventops tokens create --name NAME --scopes SCOPE`, then set EVENTOPS_TOKEN or pass --token)\n');
  });

  it('prints {name, scopes, token} with -o json', async () => {
    const { code, stdout } = await eventops(['tokens', 'create', '--name', 'ci-json', '--scopes', 'read', '-o', 'json'], asAdmin());
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ name: 'ci-json', scopes: ['read'], token: expect.stringMatching(/^eo_/) });
  });

  it('exits 1 with the server message for a taken name, an unknown scope or a token that is not admin', async () => {
    expect((await eventops(['tokens', 'create', '--name', 'dup', '--scopes', 'read'], asAdmin())).code).toBe(0);
    const dup = await eventops(['tokens', 'create', '--name', 'dup', '--scopes', 'read'], asAdmin());
    expect(dup).toEqual({ code: 1, stdout: '', stderr: 'eventops: a token named "dup" exists already: pick another name\n' });
    const scope = await eventops(['tokens', 'create', '--name', 'x', '--scopes', 'events:read'], asAdmin());
    expect(scope.code).toBe(1);
    expect(scope.stderr).toBe('eventops: unknown scope "events:read": use one or more of read, events:write, runs:write, admin, or agent:<id> for an agent\n');
    const reader = await eventops(['tokens', 'create', '--name', 'x', '--scopes', 'admin'], { EVENTOPS_TOKEN: api.tokens.read });
    expect(reader.code).toBe(1);
    expect(reader.stderr).toContain('needs a token with the admin scope; the token "reader" has read');
  });

  it('calls a missing --name or --scopes a usage error (exit 2)', async () => {
    expect((await eventops(['tokens', 'create', '--name', 'x'], asAdmin())).code).toBe(2);
    expect((await eventops(['tokens', 'create', '--scopes', 'read'], asAdmin())).code).toBe(2);
  });
});

describe('eventops tokens list', () => {
  it('prints names, scopes and dates, and -o json without any token', async () => {
    const { code, stdout } = await eventops(['tokens', 'list'], asAdmin());
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+SCOPES\s+CREATED\s+LAST USED$/);
    expect(lines.find((l) => l.startsWith('admin '))).toMatch(/^admin\s+admin\s+\d{4}-\d\d-\d\dT\S+Z\s+\d+s ago$/);
    expect(lines.find((l) => l.startsWith('reader '))).toMatch(/^reader\s+read\s+\S+\s+/);
    const json = await eventops(['tokens', 'list', '-o', 'json'], asAdmin());
    const items = JSON.parse(json.stdout) as TokenInfo[];
    expect(items.map((t) => t.name)).toContain('admin');
    expect(json.stdout).not.toContain(api.tokens.admin);
    expect(json.stdout).not.toMatch(/"(hash|token)"/);
  });
});

describe('choosing the token', () => {
  it('reads .eventops/admin-token in the working folder when neither --token nor EVENTOPS_TOKEN is set', async () => {
    const folder = await serverFolder('served-here', api.tokens.admin);
    const listed = await eventops(['sources', 'list'], {}, folder);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect((await eventops(['sources', 'reconcile', 'ops'], {}, folder)).stdout).toBe('reconcile of ops requested\n');
  });

  it('reads <EVENTOPS_DATA_DIR>/admin-token, relative to the working folder', async () => {
    const folder = await serverFolder('custom-data', api.tokens.admin, 'var/eventops');
    expect((await eventops(['sources', 'list'], {}, folder)).code).toBe(1);
    expect((await eventops(['sources', 'list'], { EVENTOPS_DATA_DIR: 'var/eventops' }, folder)).code).toBe(0);
    expect((await eventops(['sources', 'list'], { EVENTOPS_DATA_DIR: join(folder, 'var/eventops') })).code).toBe(0);
  });

  it('prefers EVENTOPS_TOKEN over the file, and --token over both', async () => {
    const folder = await serverFolder('preferences', api.tokens.admin);
    const viaEnv = await eventops(['sources', 'reconcile', 'ops'], { EVENTOPS_TOKEN: api.tokens.read }, folder);
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toContain('the token "reader" has read');
    const viaOption = await eventops(['sources', 'reconcile', 'ops', '--token', api.tokens.admin], { EVENTOPS_TOKEN: api.tokens.read }, folder);
    expect(viaOption.code).toBe(0);
  });

  it('says what to set when there is no token, naming the file it looked for', async () => {
    const { code, stdout, stderr } = await eventops(['sources', 'list'], {});
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `eventops: the server at ${api.url} needs an API token and none was found (no --token, no EVENTOPS_TOKEN, no ${join(dir, '.eventops', 'admin-token')}): set EVENTOPS_TOKEN or pass --token with a token from \`eventops tokens create\`; on the server machine, run the command in the folder of \`eventops serve\` so it reads .eventops/admin-token (or set EVENTOPS_DATA_DIR to the server's data folder)\n`,
    );
  });

  it('says where a refused token came from, without printing it', async () => {
    const stale = 'eo_from-a-database-that-was-reset';
    const fromEnv = await eventops(['sources', 'list'], { EVENTOPS_TOKEN: stale });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toMatch(new RegExp(`^eventops: the server at ${api.url} does not accept the token from EVENTOPS_TOKEN \\(`));
    const folder = await serverFolder('stale', stale);
    const fromFile = await eventops(['sources', 'list'], {}, folder);
    expect(fromFile.stderr).toContain(`does not accept the token from ${join(folder, '.eventops', 'admin-token')}`);
    for (const stderr of [fromEnv.stderr, fromFile.stderr]) expect(stderr).not.toContain(stale);
  });

  it('says so when the token file cannot be read', async () => {
    const folder = join(dir, 'unreadable');
    await mkdir(join(folder, '.eventops', 'admin-token'), { recursive: true });
    const { code, stderr } = await eventops(['sources', 'list'], {}, folder);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^eventops: cannot read the admin token in \S+admin-token: EISDIR.*\(set EVENTOPS_TOKEN or --token instead\)\n$/);
  });
});
