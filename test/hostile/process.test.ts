// Hostile suite, the process and its files (issue 20, items 10 and 12): a real `eventops serve`
// keeps its data folder to its owner (0700, no group or other bit on any file, the embedded
// database's included), and two servers started at once on one data folder with a stale lock in
// it never both get it: one serves, the other exits saying which process has the folder.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { startHostileServer, watchHealth, type HostileServer } from './harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Every path under `dir` (itself included) whose mode gives group or others any permission. */
function looseModes(dir: string): string[] {
  const loose: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (!stat || stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) loose.push(`${(stat.mode & 0o777).toString(8)} ${path}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return loose;
}

describe('hostile: the process and its files', () => {
  it('keeps the data folder to its owner: 0700, no group/other bit on any file of the running embedded database', async () => {
    const server: HostileServer = await startHostileServer();
    cleanups.push(() => server.close());
    const health = watchHealth(server.url, { pid: server.pid });
    // Write something, so the database has made files of its own since it started.
    const res = await fetch(`${server.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'hostile.files', subject: 'modes' }),
    });
    expect(res.status).toBe(202);
    const dataDir = join(server.dir, 'data');
    expect(lstatSync(dataDir).mode & 0o777).toBe(0o700);
    expect(looseModes(dataDir)).toEqual([]);
    const watched = await health.stop();
    expect(watched.failures).toEqual([]);
    expect(watched.worstMs).toBeLessThan(1000);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 120_000);

  it('lets one of two servers started at once on one data folder with a stale lock serve; the other exits saying so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventops-hostile-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    // Left by a server that was killed: its pid is gone.
    const { pid: dead } = spawnSync('true');
    writeFileSync(join(dataDir, 'pglite.pid'), String(dead));
    const config = join(dir, 'eventops.yaml');
    writeFileSync(config, 'server: { port: 0, host: 127.0.0.1 }\n');
    const start = () => startServerProcess({ config, dataDir, env: { EVENTOPS_DATA_DIR: dataDir }, timeoutMs: 90_000 });
    const outcomes = await Promise.allSettled([start(), start()]);
    const serving = outcomes.filter((o): o is PromiseFulfilledResult<ServerProcess> => o.status === 'fulfilled').map((o) => o.value);
    for (const server of serving) cleanups.push(() => server.stop());
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => String((o.reason as Error).message));
    expect(serving).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const winner = serving[0] as ServerProcess;
    expect(refused[0]).toMatch(new RegExp(`exited with 1:[\\s\\S]*the embedded database in ${dataDir}/pglite is in use by process ${winner.pid}`));
    expect((await fetch(`${winner.url}/healthz`)).status).toBe(200);
  }, 180_000);
});
