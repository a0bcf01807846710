// The git source under the faults of issue 20 against a real git server (`git http-backend`):
// sibling commits fetched in turn into one cache (thin-pack deltas that used to loop until the
// heap was gone), the time and memory budget of a fetch (limits.git), the event loop kept free
// during a large fetch, and a remote whose HEAD names a branch that does not exist.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startGitServer } from '../../test/helpers/git-server.js';
import type { GitServer, TestRepo } from '../../test/helpers/git-server.js';
import { SourceError } from '../errors.js';
import { createGitSource } from './git-source.js';
import type { GitSourceLimits, GitSourceOptions } from './git-source.js';

const MiB = 1024 * 1024;
let server: GitServer;
let repoCount = 0;

beforeAll(async () => {
  server = await startGitServer();
});
afterAll(async () => {
  await server?.close();
});

async function cacheDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'eventops-git-limits-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function open(options: Omit<GitSourceOptions, 'name'> & { limits?: GitSourceLimits }) {
  const source = createGitSource({ name: 'test', ...options });
  onTestFinished(() => source.close());
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

/** 40 YAML files of 60 similar lines: packs of it are full of deltas, as a real repository's are. */
function definitions(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 40; i++) {
    files[`defs/group-${i % 5}/file-${i}.yaml`] = Array.from({ length: 60 }, (_, j) => `key${j}: value ${i} ${j} lorem ipsum dolor sit amet`).join('\n') + '\n';
  }
  return files;
}

function manyFiles(count: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++) files[`defs/g${i % 40}/f${i}.yaml`] = `name: f${i}\nsteps:\n${Array.from({ length: 20 }, (_, j) => `  - run: echo ${i} ${j}\n`).join('')}`;
  return files;
}

/** Parent P and three children of it, each changing another file; fixed dates give fixed ids. */
async function siblings(day: number): Promise<{ repo: TestRepo; commits: string[] }> {
  const repo = await server.createRepo(`siblings-${++repoCount}`);
  const files = definitions();
  await repo.write(files);
  const date = `2026-01-0${day}T00:00:00Z`;
  const parent = await repo.commit('P', { date });
  const commits: string[] = [];
  for (const k of [2, 3, 4]) {
    await repo.git('checkout', '-q', '-b', `c${k}`, parent);
    const path = `defs/group-${k}/file-${k}.yaml`;
    await repo.write({ [path]: `${files[path]!.replace('value', `changed${k}`)}extra: ${k}\n` });
    commits.push(await repo.commit(`C${k}`, { date }));
  }
  return { repo, commits };
}

describe('git source limits', () => {
  // With these dates the third thin pack held a second copy of an object as a delta against an
  // object of the second pack, itself a delta against the first copy: reads looped for ever.
  it('fetches three sibling commits in turn into one cache and lists each', async () => {
    for (const day of [3, 5, 7]) {
      const { repo, commits } = await siblings(day);
      const dir = await cacheDir();
      for (const commit of commits) {
        // A new source per ref, as a config change makes; a small budget fails fast if it loops.
        const source = open({ url: server.url(repo.name), ref: commit, cacheDir: dir, limits: { fetchMemoryBytes: 96 * MiB, fetchTimeoutMs: 30_000 } });
        expect(await source.resolve()).toBe(commit);
        const snapshot = await source.snapshot(commit);
        expect(snapshot.entries).toHaveLength(40);
        const changed = snapshot.entries.filter((e) => e.path.endsWith(`file-${commits.indexOf(commit) + 2}.yaml`));
        expect(await snapshot.read(changed[0]!)).toContain(`extra: ${commits.indexOf(commit) + 2}`);
        await source.close();
      }
    }
  });

  it('stops a fetch past limits.git.fetchTimeoutMs with FetchTimeout, and the cache serves the next fetch', async () => {
    const repo = await server.createRepo(`slow-${++repoCount}`);
    await repo.write(definitions());
    const first = await repo.commit('first');
    await repo.write({ 'defs/new.yaml': 'new: true\n' });
    const second = await repo.commit('second');
    const dir = await cacheDir();
    const good = open({ url: server.url(repo.name), ref: first, cacheDir: dir });
    expect((await good.snapshot(first)).entries).toHaveLength(40);
    await good.close();

    const hasty = open({ url: server.url(repo.name), ref: second, cacheDir: dir, limits: { fetchTimeoutMs: 5 } });
    const err = await sourceError(hasty.snapshot(second));
    expect([err.kind, err.reason]).toEqual(['transient', 'FetchTimeout']);
    expect(err.message).toMatch(/took longer than 5 ms \(limits\.git\.fetchTimeoutMs\).*raise limits\.git\.fetchTimeoutMs/);

    const after = open({ url: server.url(repo.name), ref: second, cacheDir: dir });
    expect((await after.snapshot(second)).entries).toHaveLength(41);
  });

  it('fails a fetch past limits.git.fetchMemoryBytes with FetchOutOfMemory, and the source lives on', async () => {
    const repo = await server.createRepo(`big-${++repoCount}`);
    await repo.write(definitions());
    const small = await repo.commit('small');
    // 20 MiB that does not compress: the pack alone is past a 16 MiB budget.
    await repo.write({ 'blob.bin': randomBytes(20 * MiB).toString('base64') });
    const big = await repo.commit('big');
    const dir = await cacheDir();
    const limits = { fetchMemoryBytes: 16 * MiB };

    const pinned = open({ url: server.url(repo.name), ref: small, cacheDir: dir, limits });
    expect((await pinned.snapshot(small)).entries).toHaveLength(40);
    const tip = open({ url: server.url(repo.name), cacheDir: dir, limits });
    const err = await sourceError(tip.snapshot(await tip.resolve()));
    expect([err.kind, err.reason]).toEqual(['stalling', 'FetchOutOfMemory']);
    expect(err.message).toMatch(/more than 16777216 bytes.*limits\.git\.fetchMemoryBytes/);
    // The source still answers, and the cache still serves the last good revision.
    expect(await tip.resolve()).toBe(big);
    expect((await tip.snapshot(small)).entries).toHaveLength(40);
  });

  it('stops a worker whose heap outgrows limits.git.fetchMemoryBytes with FetchOutOfMemory', async () => {
    const repo = await server.createRepo(`heap-${++repoCount}`);
    await repo.write(manyFiles(20_000));
    const commit = await repo.commit('many');
    // The pack is a few MiB (under the budget); resolving and listing its 40,000 objects is not.
    const source = open({ url: server.url(repo.name), ref: commit, cacheDir: await cacheDir(), limits: { fetchMemoryBytes: 16 * MiB } });
    const err = await sourceError(source.snapshot(commit));
    expect([err.kind, err.reason]).toEqual(['stalling', 'FetchOutOfMemory']);
    expect(err.message).toMatch(/more than its memory budget of 16 MiB \(limits\.git\.fetchMemoryBytes\)/);
  });

  it('keeps the event loop free during a large fetch (max delay < 100 ms)', async () => {
    const repo = await server.createRepo(`large-${++repoCount}`);
    await repo.write(manyFiles(4000));
    const commit = await repo.commit('large');
    const source = open({ url: server.url(repo.name), cacheDir: await cacheDir() });
    await source.resolve(); // the worker's start-up (loading modules) is not the fetch
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const snapshot = await source.snapshot(commit);
    await Promise.all(snapshot.entries.slice(0, 200).map((e) => snapshot.read(e)));
    delay.disable();
    expect(snapshot.entries).toHaveLength(4000);
    expect(delay.max / 1e6).toBeLessThan(100);
  });
});

describe('a remote whose HEAD names a missing branch', () => {
  async function danglingHead(): Promise<{ url: string; commit: string }> {
    const repo = await server.createRepo(`dangling-${++repoCount}`);
    await repo.write(definitions());
    const commit = await repo.commit('on main');
    // What `git init --bare` (HEAD → master) and a push of only `main` leave behind.
    await repo.git('--git-dir', repo.bareDir, 'symbolic-ref', 'HEAD', 'refs/heads/master');
    return { url: server.url(repo.name), commit };
  }

  it('fetches a named branch, a tag-less commit id and never asks for HEAD', async () => {
    const { url, commit } = await danglingHead();
    const byBranch = open({ url, ref: 'main', cacheDir: await cacheDir() });
    expect(await byBranch.resolve()).toBe(commit);
    expect((await byBranch.snapshot(commit)).entries).toHaveLength(40);
    const byCommit = open({ url, ref: commit, cacheDir: await cacheDir() });
    expect((await byCommit.snapshot(await byCommit.resolve())).entries).toHaveLength(40);
  });

  it('without ref, says to set ref', async () => {
    const { url } = await danglingHead();
    const source = open({ url, cacheDir: await cacheDir() });
    const err = await sourceError(source.resolve());
    expect([err.kind, err.reason]).toEqual(['stalling', 'RefNotFound']);
    expect(err.message).toMatch(/HEAD names a branch that does not exist\): set ref/);
  });
});
