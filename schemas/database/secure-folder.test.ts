// The data folder and the embedded database's files are the owner's alone: no group or other
// permission on anything under it, for a new folder and for one an older version left open.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from './open-database.js';
import { secureFolder } from './secure-folder.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Every path under `dir` (itself included) whose mode gives group or others any permission, with that mode. */
function looseModes(dir: string): string[] {
  const loose: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) loose.push(`${(stat.mode & 0o777).toString(8)} ${path}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return loose;
}

describe('secureFolder', () => {
  it('opens the embedded database in a data folder that only its owner can read: folder 0700, no group/other bits on any file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'eventops-modes-'));
    dirs.push(root);
    const dataDir = join(root, 'data');
    const database = await openDatabase({ dataDir });
    try {
      await database.db.execute('select 1');
      expect(lstatSync(dataDir).mode & 0o777).toBe(0o700);
      expect(looseModes(dataDir)).toEqual([]);
    } finally {
      await database.close();
    }
  }, 120_000);

  it('tightens a data folder an older version left readable, and is cheap to repeat', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventops-modes-'));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'pglite', 'pg_wal'), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, 'pglite', 'pg_wal', '000000010000000000000001'), 'wal', { mode: 0o666 });
    writeFileSync(join(dir, 'admin-token'), 'secret', { mode: 0o644 });
    chmodSync(join(dir, 'pglite', 'pg_wal', '000000010000000000000001'), 0o666);
    expect(secureFolder(dir)).toEqual({ changed: 5, notOwned: [] });
    expect(looseModes(dir)).toEqual([]);
    // The owner keeps what it had.
    expect(lstatSync(join(dir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(secureFolder(dir)).toEqual({ changed: 0, notOwned: [] });
  });
});
