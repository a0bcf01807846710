// `eventops serve` as a user runs it: the built command in its own process, configured by an
// eventops.yaml with a git source (a real git server over HTTP) and no database (the embedded
// PGlite), inspected and driven with `eventops sources …` run in the server's folder (so with the
// admin token the server wrote there) and with the HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type Io } from '../cli/index.js';
import { closedPortUrl, startGitServer, type GitServer, type TestRepo } from './helpers/git-server.js';

const BIN = fileURLToPath(new URL('../bin/eventops.js', import.meta.url));

const pipeline = (name: string, command = 'echo hi') => `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  tasks:
    - { name: one, type: local, commands: [ "${command}" ] }
`;

/** The CLI as a user runs it in `cwd`, the folder of `eventops serve`: no token is set up. */
async function cli(args: string[], server: string, cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => (out += s), err: (s) => (err += s), cwd, env: { EVENTOPS_SERVER: server } };
  const code = await run(args, io);
  return { code, out, err };
}

describe('eventops serve', () => {
  let git: GitServer;
  let repo: TestRepo;
  let folder: string;
  let child: ChildProcess;
  let server = '';
  let logs = '';

  beforeAll(async () => {
    git = await startGitServer({ token: 'serve-test-token' });
    repo = await git.createRepo('serve');
    await repo.write({ 'ops/pipelines/hello.yaml': pipeline('hello'), 'ops/ci/skip.yaml': 'not: a definition' });
    await repo.commit('first');
    folder = await mkdtemp(join(tmpdir(), 'eventops-serve-'));
    const port = Number(new URL(await closedPortUrl()).port);
    await writeFile(
      join(folder, 'eventops.yaml'),
      `server: { port: ${port}, host: 127.0.0.1 }
sources:
  - name: ops
    url: ${git.url(repo.name)}
    dir: ops
    ignore: [ "ci/**" ]
    interval: 1h
    auth: { token: { secret: OPS_TOKEN } }
  - name: down
    url: ${await closedPortUrl()}/x.git
    interval: 1h
`,
    );
    child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: folder,
      env: { ...process.env, EVENTOPS_SECRET_OPS_TOKEN: 'serve-test-token', DATABASE_URL: '', PORT: '', EVENTOPS_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    server = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const ok = await fetch(`${server}/healthz`).then((r) => r.ok, () => false);
      if (ok) return;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`eventops serve did not start:\n${logs}`);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await git?.close();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  /** fetch with the admin token the server wrote. */
  async function get(path: string): Promise<Response> {
    const token = (await readFile(join(folder, '.eventops', 'admin-token'), 'utf8')).trim();
    return fetch(`${server}${path}`, { headers: { authorization: `Bearer ${token}` } });
  }

  it('writes an admin token only its owner can read, logs where (not the token), and the API needs a token', async () => {
    const file = join(folder, '.eventops', 'admin-token');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const token = (await readFile(file, 'utf8')).trim();
    expect(token).toMatch(/^eo_[A-Za-z0-9_-]{43}$/);
    expect(logs).toContain(`admin token written to ${file}`);
    expect(logs).not.toContain(token);
    const anonymous = await fetch(`${server}/api/v1/sources`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await fetch(`${server}/api/v1/sources/ops/reconcile`, { method: 'POST' })).status).toBe(401);
    expect((await get('/api/v1/sources')).status).toBe(200);
    // From another folder the CLI finds no token.
    const elsewhere = await cli(['sources', 'list'], server, join(folder, 'elsewhere'));
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toContain('needs an API token and none was found');
  });

  it('syncs the git source into the embedded database and shows it', async () => {
    const reconciled = await cli(['sources', 'reconcile', 'ops', '--wait'], server, folder);
    expect(reconciled.code).toBe(0);
    expect(reconciled.out).toMatch(/ops: (applied|unchanged)/);
    expect((await cli(['sources', 'reconcile', 'down', '--wait'], server, folder)).code).toBe(1);
    const listed = await cli(['sources', 'list', '-o', 'json'], server, folder);
    const items = JSON.parse(listed.out) as { name: string; ready: string }[];
    expect(items.map((s) => [s.name, s.ready])).toEqual([
      ['down', 'False'],
      ['ops', 'True'],
    ]);
    const defs = (await (await get('/api/v1/definitions?source=ops')).json()) as { items: { kind: string; name: string; file: string }[] };
    expect(defs.items.map((d) => `${d.kind}/${d.name} ${d.file}`)).toEqual(['Pipeline/hello ops/pipelines/hello.yaml']);
  });

  it('reports an invalid push with file:line:column and keeps the last good revision', async () => {
    await repo.write({ 'ops/pipelines/hello.yaml': pipeline('hello').replace('type: local', 'type: lokal') });
    const broken = await repo.commit('typo');
    const reconciled = await cli(['sources', 'reconcile', 'ops', '--wait'], server, folder);
    expect(reconciled.code).toBe(1);
    expect(reconciled.out).toContain('invalid');
    const got = await cli(['sources', 'get', 'ops'], server, folder);
    expect(got.code).toBe(1);
    expect(got.out).toMatch(/ops\/pipelines\/hello\.yaml:6:\d+: error: .*lokal/);
    const detail = (await (await get('/api/v1/sources/ops')).json()) as { lastRevision: { commit: string; status: string }; activeRevision: { commit: string } };
    expect(detail.lastRevision).toMatchObject({ commit: broken, status: 'invalid' });
    expect(detail.activeRevision.commit).not.toBe(broken);
  });

  it('shows an unreachable source as not ready, with the reason, and logs no secret', async () => {
    const got = await cli(['sources', 'get', 'down', '-o', 'json'], server, folder);
    const detail = JSON.parse(got.out) as { conditions: { type: string; status: string; reason: string }[] };
    expect(detail.conditions).toContainEqual(expect.objectContaining({ type: 'FetchFailed', status: 'True', reason: 'Unreachable' }));
    expect(logs).toContain('"source":"ops"');
    expect(logs).not.toContain('serve-test-token');
  });
});
