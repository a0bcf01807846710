// The git source against a real git server (`git http-backend`): what it resolves, which files
// it lists and reads, that it fetches only what changed, and how each failure is classified and
// kept free of credentials.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, expect, onTestFinished } from 'vitest';
import { SourceError } from '../errors.js';
import { closedPortUrl, startGitServer, startSilentServer } from '../../test/helpers/git-server.js';
import type { GitServer, TestRepo } from '../../test/helpers/git-server.js';
import { createGitSource } from './git-source.js';
import type { GitSourceOptions } from './git-source.js';

let server: GitServer;
let repoCount = 0;

beforeAll(async () => {
  server = await startGitServer();
});
afterAll(async () => {
  await server?.close();
});

async function newRepo(files: Record<string, string>, on: GitServer = server): Promise<{ repo: TestRepo; commit: string; url: string }> {
  const repo = await on.createRepo(`repo-${++repoCount}`);
  await repo.write(files);
  const commit = await repo.commit('first');
  return { repo, commit, url: on.url(repo.name) };
}

function newSource(options: Omit<GitSourceOptions, 'name' | 'cacheDir'>) {
  let cacheDir: string | undefined;
  const source = (async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'eventops-git-cache-'));
    return createGitSource({ name: 'test', cacheDir, ...options });
  })();
  onTestFinished(async () => {
    await (await source).close();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });
  return source;
}

async function sourceError(promise: Promise<unknown>): Promise<SourceError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SourceError) return err;
    throw err;
  }
  throw new Error('expected a SourceError');
}

/** path → blob id of every YAML file, as the git CLI sees the commit. */
async function yamlBlobs(repo: TestRepo, rev: string): Promise<{ path: string; oid: string }[]> {
  const out = await repo.git('ls-tree', '-r', rev);
  return out
    .split('\n')
    .map((line) => {
      const [meta = '', path = ''] = line.split('\t');
      return { path, oid: meta.split(' ')[2] ?? '' };
    })
    .filter((e) => /\.ya?ml$/.test(e.path))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

describe('git source', () => {
  it('resolves the pushed commit and lists and reads its YAML files with their blob ids', async () => {
    const files = { 'a.yaml': 'a: 1\n', 'b/c.yml': 'c: ünïcode\n', 'b/d.txt': 'not yaml\n', 'b/e/f.yaml': 'f: 3\n' };
    const { repo, commit, url } = await newRepo(files);
    const source = await newSource({ url });

    const revision = await source.resolve();
    expect(revision).toBe(commit);
    const snapshot = await source.snapshot(revision);
    expect(snapshot.revision).toBe(commit);
    expect(snapshot.entries).toEqual(await yamlBlobs(repo, commit));
    expect(snapshot.entries.map((e) => e.path)).toEqual(['a.yaml', 'b/c.yml', 'b/e/f.yaml']);
    for (const entry of snapshot.entries) expect(await snapshot.read(entry)).toBe(files[entry.path as keyof typeof files]);
  });

  it('lists only `dir`, skips hidden names, node_modules and `ignore` globs, and refuses a missing dir', async () => {
    const { url } = await newRepo({
      'other.yaml': 'x',
      'defs/x.yaml': 'x',
      'defs/sub/y.yaml': 'y',
      'defs/.hidden/z.yaml': 'z',
      'defs/.dotfile.yaml': 'd',
      'defs/node_modules/m.yaml': 'm',
      'defs/drafts/w.yaml': 'w',
      'defs/sub/skip.yaml': 's',
    });
    const source = await newSource({ url, dir: 'defs/', ignore: ['drafts/**', '**/skip.yaml'] });
    const snapshot = await source.snapshot(await source.resolve());
    expect(snapshot.entries.map((e) => e.path)).toEqual(['sub/y.yaml', 'x.yaml']);

    const nested = await newSource({ url, dir: 'defs/sub' });
    expect((await nested.snapshot(await nested.resolve())).entries.map((e) => e.path)).toEqual(['skip.yaml', 'y.yaml']);

    const missing = await newSource({ url, dir: 'nope/deeper' });
    const err = await sourceError(missing.snapshot(await missing.resolve()));
    expect([err.kind, err.reason]).toEqual(['stalling', 'DirNotFound']);
    expect(err.message).toContain("'nope'");
  });

  it('does not fetch for an unchanged remote and fetches only what changed after a push', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`defs/group-${i % 10}/file-${i}.yaml`] = `name: pipeline-${i}\nsteps: [${i}]\n`;
    const { repo, commit: first, url } = await newRepo(files);
    const source = await newSource({ url });
    server.requests.length = 0;
    const snapshot1 = await source.snapshot(await source.resolve());
    const firstFetch = server.requests.filter((r) => r.method === 'POST' && r.protocol === undefined);
    expect(firstFetch).toHaveLength(1);

    server.requests.length = 0;
    expect(await source.resolve()).toBe(first);
    expect(server.requests.every((r) => r.protocol === 'version=2')).toBe(true); // ls-refs only
    const again = await source.snapshot(first);
    expect(server.requests).toHaveLength(2); // the resolve's two; the snapshot made none
    expect(again.entries).toEqual(snapshot1.entries);

    await repo.write({ 'defs/group-1/file-1.yaml': 'changed: true\n', 'defs/group-2/file-2.yaml': null });
    const second = await repo.commit('second');
    server.requests.length = 0;
    expect(await source.resolve()).toBe(second);
    const snapshot2 = await source.snapshot(second);
    expect(snapshot2.entries).toEqual(await yamlBlobs(repo, second));
    const changed = snapshot2.entries.find((e) => e.path === 'defs/group-1/file-1.yaml');
    const unchanged = snapshot2.entries.find((e) => e.path === 'defs/group-3/file-3.yaml');
    expect(changed && (await snapshot2.read(changed))).toBe('changed: true\n');
    expect(unchanged && (await snapshot2.read(unchanged))).toBe(files['defs/group-3/file-3.yaml']);
    // Only the new commit, two trees and one blob travel, not the 200 files again.
    const secondFetch = server.requests.filter((r) => r.method === 'POST' && r.protocol === undefined);
    expect(secondFetch).toHaveLength(1);
    expect(secondFetch[0]!.bytes).toBeLessThan(firstFetch[0]!.bytes / 10);
    // The older snapshot still reads from the same cache.
    expect(await snapshot1.read(snapshot1.entries[0]!)).toBe(files[snapshot1.entries[0]!.path]);
  });

  it('follows a branch, an annotated or lightweight tag and a full commit id', async () => {
    const { repo, commit: first, url } = await newRepo({ 'main.yaml': 'on: main\n' });
    await repo.tag('v1', 'release v1');
    await repo.tag('v1-light');
    await repo.git('checkout', '-q', '-b', 'release');
    await repo.write({ 'release.yaml': 'on: release\n' });
    const release = await repo.commit('on release');
    await repo.git('checkout', '-q', 'main');
    await repo.write({ 'main.yaml': 'on: main, later\n' });
    await repo.commit('later on main');

    const branch = await newSource({ url, ref: 'release' });
    expect(await branch.resolve()).toBe(release);
    expect((await branch.snapshot(release)).entries.map((e) => e.path)).toEqual(['main.yaml', 'release.yaml']);

    for (const tag of ['v1', 'v1-light']) {
      const source = await newSource({ url, ref: tag });
      expect(await source.resolve()).toBe(first);
      const snapshot = await source.snapshot(first);
      expect(await snapshot.read(snapshot.entries[0]!)).toBe('on: main\n');
    }

    const pinned = await newSource({ url, ref: first });
    server.requests.length = 0;
    expect(await pinned.resolve()).toBe(first);
    expect(server.requests).toHaveLength(0);
    const snapshot = await pinned.snapshot(first);
    expect(await snapshot.read(snapshot.entries[0]!)).toBe('on: main\n');
  });

  // git http-backend always serves reachable commits by id (stateless RPC), so only the
  // "not found anywhere" end of the fallback (full history of every branch) is exercised here.
  it('finds a pinned commit that is no longer a branch tip, and refuses an unknown one', async () => {
    const { repo, commit: first, url } = await newRepo({ 'a.yaml': 'v: 1\n' });
    await repo.write({ 'a.yaml': 'v: 2\n' });
    await repo.commit('second');

    const pinned = await newSource({ url, ref: first });
    const snapshot = await pinned.snapshot(await pinned.resolve());
    expect(await snapshot.read(snapshot.entries[0]!)).toBe('v: 1\n');

    const unknown = 'deadbeef'.repeat(5);
    const ghost = await newSource({ url, ref: unknown });
    const err = await sourceError(ghost.snapshot(await ghost.resolve()));
    expect([err.kind, err.reason]).toEqual(['stalling', 'RevisionNotFound']);
    expect(err.message).toContain(unknown);
  });

  it('reports an unknown ref, an empty repository and a missing repository as stalling', async () => {
    const { url } = await newRepo({ 'a.yaml': 'a' });
    const err = await sourceError((await newSource({ url, ref: 'no-such-branch' })).resolve());
    expect([err.kind, err.reason]).toEqual(['stalling', 'RefNotFound']);
    expect(err.message).toContain('no-such-branch');
    expect(err.message).toContain(url);

    const empty = await server.createRepo(`repo-${++repoCount}`);
    const emptyErr = await sourceError((await newSource({ url: server.url(empty.name) })).resolve());
    expect([emptyErr.kind, emptyErr.reason]).toEqual(['stalling', 'RefNotFound']);

    const gone = await sourceError((await newSource({ url: server.url('does-not-exist') })).resolve());
    expect([gone.kind, gone.reason]).toEqual(['stalling', 'RepositoryNotFound']);
  });

  it('authenticates with a token and keeps credentials out of messages', async () => {
    const token = 'tok-3f9a8b7c6d5e';
    const guarded = await startGitServer({ token });
    onTestFinished(() => guarded.close());
    const { commit, url } = await newRepo({ 'a.yaml': 'secret: no\n' }, guarded);

    const good = await newSource({ url, token });
    expect(await good.resolve()).toBe(commit);
    expect((await good.snapshot(commit)).entries).toHaveLength(1);

    const inUrl = await newSource({ url: url.replace('http://', `http://x-access-token:${token}@`) });
    expect(await inUrl.resolve()).toBe(commit);

    for (const options of [{ url, token: 'wrong-token-value' }, { url: url.replace('http://', 'http://alice:hunter2pw@') }, { url }]) {
      const err = await sourceError((await newSource(options)).resolve());
      expect([err.kind, err.reason]).toEqual(['stalling', 'AuthenticationFailed']);
      expect(err.message).toContain(url);
      for (const secret of ['wrong-token-value', 'hunter2pw', 'alice', token]) expect(err.message).not.toContain(secret);
    }
  });

  it('reports a closed port as transient Unreachable', async () => {
    const url = await closedPortUrl();
    const err = await sourceError((await newSource({ url })).resolve());
    expect([err.kind, err.reason]).toEqual(['transient', 'Unreachable']);
    expect(err.message).toContain(url);
  });

  it('gives up on a server that never answers after timeoutMs, as transient Timeout', async () => {
    const silent = await startSilentServer();
    onTestFinished(() => silent.close());
    const source = await newSource({ url: silent.url.replace('http://', 'http://bob:pw-in-url@'), timeoutMs: 300 });
    const started = performance.now();
    const err = await sourceError(source.resolve());
    expect(performance.now() - started).toBeLessThan(1500);
    expect([err.kind, err.reason]).toEqual(['transient', 'Timeout']);
    expect(err.message).not.toContain('pw-in-url');

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const aborted = await sourceError(source.resolve(controller.signal));
    expect(aborted.reason).toBe('Aborted');
  });

  it('refuses a non-HTTP URL and use after close', async () => {
    const ssh = await sourceError((await newSource({ url: 'git@github.com:org/repo.git' })).resolve());
    expect([ssh.kind, ssh.reason]).toEqual(['stalling', 'InvalidUrl']);

    const { url } = await newRepo({ 'a.yaml': 'a' });
    const source = await newSource({ url });
    await source.close();
    await source.close();
    expect((await sourceError(source.resolve())).reason).toBe('Closed');
  });
});
