// The data-folder lock: a live owner keeps it, a dead owner's lock is taken over, and when many
// processes find the same stale lock at once exactly one of them takes it, round after round.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderInUseError, lockFolder } from './folder-lock.js';

const LOCK_MODULE = fileURLToPath(new URL('./folder-lock.ts', import.meta.url));
const options = { what: 'the test folder', hint: 'stop the other one' };
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eventops-lock-'));
  dirs.push(dir);
  return dir;
}

/** A pid no process has now: one of a process that already exited. */
function deadPid(): number {
  const { pid } = spawnSync('true');
  if (!pid) throw new Error('could not start `true` to get a dead pid');
  return pid;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('lockFolder', () => {
  it('refuses a lock held by a live process, naming it; takes over a dead one; releases only its own', async () => {
    const dir = tempDir();
    const lock = join(dir, 'pglite.pid');
    writeFileSync(lock, String(process.ppid));
    await expect(lockFolder(lock, options)).rejects.toThrow(new FolderInUseError(`the test folder is in use by process ${process.ppid} (lock file ${lock}): stop the other one`, process.ppid));

    writeFileSync(lock, String(deadPid()));
    const release = await lockFolder(lock, options);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    // Held by this process: a second take in it is refused too.
    await expect(lockFolder(lock, options)).rejects.toBeInstanceOf(FolderInUseError);
    release();
    expect(existsSync(lock)).toBe(false);
    // Nothing but the lock is left behind (no temp files, no claims).
    const again = await lockFolder(lock, options);
    again();
    expect(spawnSync('ls', ['-A', dir]).stdout.toString()).toBe('');
  });

  it('lets exactly one of several processes take over one stale lock, every round', async () => {
    const racers = 6;
    const rounds = 40;
    const gapMs = 60;
    const root = tempDir();
    const roundDirs = Array.from({ length: rounds }, (_, i) => {
      const dir = join(root, `round-${i}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'pglite.pid'), String(deadPid()));
      return dir;
    });
    // Each racer takes part in every round at the same instant (a busy wait to the millisecond),
    // and stays alive holding what it won until all have reported.
    const code = `
      import { lockFolder } from ${JSON.stringify(LOCK_MODULE)};
      const { dirs, t0, gapMs } = JSON.parse(process.argv[1]);
      const results = [];
      for (let i = 0; i < dirs.length; i++) {
        const at = t0 + i * gapMs;
        while (Date.now() < at);
        try {
          await lockFolder(dirs[i] + '/pglite.pid', { what: 'x', hint: 'y' });
          results.push('won');
        } catch (error) {
          results.push(error.name === 'FolderInUseError' ? 'lost' : 'error: ' + error.message);
        }
      }
      process.stdout.write(JSON.stringify(results) + '\\n');
      process.stdin.resume();
      process.stdin.on('end', () => process.exit(0));
    `;
    const t0 = Date.now() + 4_000;
    const children = Array.from({ length: racers }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, JSON.stringify({ dirs: roundDirs, t0, gapMs })], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    try {
      const results = await Promise.all(
        children.map(
          (child) =>
            new Promise<string[]>((resolve, reject) => {
              let out = '';
              child.stdout.on('data', (chunk: Buffer) => {
                out += chunk.toString();
                if (out.includes('\n')) resolve(JSON.parse(out) as string[]);
              });
              child.on('exit', (exitCode) => reject(new Error(`a racer exited (${exitCode}) before reporting`)));
            }),
        ),
      );
      const winners = roundDirs.map((_, round) => results.filter((r) => r[round] === 'won').length);
      expect(results.flat().filter((r) => r !== 'won' && r !== 'lost')).toEqual([]);
      expect(winners).toEqual(roundDirs.map(() => 1));
    } finally {
      for (const child of children) child.stdin.end();
      await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.on('exit', resolve)) : undefined)));
    }
  }, 120_000);
});
