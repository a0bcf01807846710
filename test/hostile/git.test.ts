// Hostile git remotes against a real `eventops serve` (the built CLI: `npm run build` first): a
// branch force-moved across three sibling commits (the third fetch into the cache used to loop in
// delta resolution until the process died of heap exhaustion), a commit whose pack is past
// limits.git.fetchMemoryBytes, and a remote whose HEAD names a branch that does not exist. The
// source must reach each revision or fail with a clear condition keeping its last good revision,
// /healthz must answer within 1 s throughout, and the server's memory stays under a bound.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitServer } from '../helpers/git-server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import type { TestDatabase } from '../helpers/postgres.js';
import type { GitServer, TestRepo } from '../helpers/git-server.js';
import { startHostileServer, watchHealth } from './harness.js';
import type { HostileServer } from './harness.js';

const MiB = 1024 * 1024;
// The server on PostgreSQL with its git worker: ~290 MB peak measured here (the 40 MiB pack cut off at 32 MiB included). A loop like the old one grew past any bound.
const RSS_BOUND = 400 * MiB;

let git: GitServer;
let database: TestDatabase;
let server: HostileServer | undefined;

beforeAll(async () => {
  git = await startGitServer();
  database = await createTestDatabase('eventops_hostile_git');
});
afterAll(async () => {
  await server?.close();
  await git?.close();
  await database?.drop();
});

function pipeline(name: string, greeting: string): string {
  return `apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata:\n  name: ${name}\nspec:\n  tasks:\n    - name: greet\n      type: local\n      commands:\n        - echo "${greeting}"\n`;
}

/** Other files of the repository (not YAML, so not definitions, but their trees are walked): 40 similar files, so packs are full of deltas. */
function bulk(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 40; i++) {
    files[`defs/group-${i % 5}/file-${i}.txt`] = Array.from({ length: 60 }, (_, j) => `key${j}: value ${i} ${j} lorem ipsum dolor sit amet`).join('\n') + '\n';
  }
  return files;
}

/** Parent P and children C2, C3, C4 of it (fixed dates, so fixed ids), each changing a file of `defs/` and the pipeline. */
async function siblings(repo: TestRepo): Promise<string[]> {
  const files = bulk();
  await repo.write({ ...files, 'pipelines/hello.yaml': pipeline('hello', 'parent') });
  const date = '2026-01-01T00:00:00Z'; // with these ids the old pack naming looped on C4
  const parent = await repo.commit('P', { date });
  const commits: string[] = [];
  for (const k of [2, 3, 4]) {
    await repo.git('checkout', '-q', '-b', `c${k}`, parent);
    const path = `defs/group-${k}/file-${k}.txt`;
    await repo.write({ [path]: `${files[path]!.replace('value', `changed${k}`)}extra: ${k}\n`, 'pipelines/hello.yaml': pipeline('hello', `child ${k}`) });
    commits.push(await repo.commit(`C${k}`, { date }));
  }
  return commits;
}

interface SourceStatus {
  activeRevision: { commit: string } | null;
  conditions: { type: string; status: string; reason: string; message: string }[];
}

describe('hostile git remotes', () => {
  it('follows a branch across sibling commits, fails a pack past the memory budget clearly, and fetches past a dangling HEAD', async () => {
    const repo = await git.createRepo('hostile');
    const commits = await siblings(repo);
    // 40 MiB that does not compress, on top of C4: its pack is past the 32 MiB budget. Made
    // before the health watch starts, as it keeps this process busy for a while.
    await repo.git('checkout', '-q', '-b', 'big', commits[2]!);
    await repo.write({ 'blob.bin': randomBytes(40 * MiB).toString('base64') });
    const big = await repo.commit('big');
    await repo.git('--git-dir', repo.bareDir, 'update-ref', 'refs/heads/live', commits[0]!);
    // What `git init --bare` (HEAD → master) and a push of only other branches leave behind.
    await repo.git('--git-dir', repo.bareDir, 'symbolic-ref', 'HEAD', 'refs/heads/master');

    server = await startHostileServer({
      env: { DATABASE_URL: database.url },
      configYaml: [
        'limits:',
        '  git: { fetchMemory: 32MiB, fetchTimeout: 60s }',
        'sources:',
        '  - name: defs',
        `    url: ${git.url(repo.name)}`,
        '    ref: live',
        '    interval: 1h',
        '',
      ].join('\n'),
    });
    const { url, token } = server;
    const auth = { authorization: `Bearer ${token}` };
    const reconcile = async () => {
      const res = await fetch(`${url}/api/v1/sources/defs/reconcile?wait=true`, { method: 'POST', headers: auth, signal: AbortSignal.timeout(120_000) });
      expect(res.status).toBe(200);
      return (await res.json()) as { outcome: string; revision?: string };
    };
    const status = async () => (await (await fetch(`${url}/api/v1/sources/defs`, { headers: auth })).json()) as SourceStatus;

    // The start-up reconcile (the server's own warm-up is not what this test measures).
    for (let i = 0; i < 600 && (await status()).activeRevision?.commit !== commits[0]; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await status()).activeRevision?.commit).toBe(commits[0]);

    const health = watchHealth(url, { pid: server.pid });
    try {
      for (const commit of commits.slice(1)) {
        await repo.git('--git-dir', repo.bareDir, 'update-ref', 'refs/heads/live', commit);
        const result = await reconcile();
        expect(result).toMatchObject({ outcome: 'applied', revision: commit });
        expect((await status()).activeRevision?.commit).toBe(commit);
      }

      await repo.git('--git-dir', repo.bareDir, 'update-ref', 'refs/heads/live', big);
      expect((await reconcile()).outcome).toBe('failed');
      const failed = await status();
      expect(failed.activeRevision?.commit).toBe(commits[2]);
      const condition = failed.conditions.find((c) => c.type === 'FetchFailed');
      expect(condition).toMatchObject({ status: 'True', reason: 'FetchOutOfMemory' });
      expect(condition?.message).toMatch(/limits\.git\.fetchMemoryBytes/);
    } finally {
      const watched = await health.stop();
      expect(watched.failures).toEqual([]);
      expect(watched.worstMs).toBeLessThan(1000);
      expect(watched.peakRss).toBeLessThan(RSS_BOUND);
    }

    // Still serving: the branch back on a small commit is applied again.
    await repo.git('--git-dir', repo.bareDir, 'update-ref', 'refs/heads/live', commits[0]!);
    expect(await reconcile()).toMatchObject({ outcome: 'applied', revision: commits[0] });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  }, 240_000);
});
