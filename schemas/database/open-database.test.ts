import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { openDatabase, type Database } from './open-database.js';
import { sources } from './tables.js';

describe('openDatabase', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it('applies the migrations on PostgreSQL, twice without harm, and locks across pools', async () => {
    const test: TestDatabase = await createTestDatabase();
    cleanup.push(() => test.drop());
    const [a, b] = await Promise.all([openDatabase({ url: test.url, dataDir: '' }), openDatabase({ url: test.url, dataDir: '' })]);
    cleanup.push(() => a.close(), () => b.close());
    await a.db.insert(sources).values({ name: 'ops', type: 'git', location: 'https://example.invalid/x.git' });
    expect(await b.db.select().from(sources)).toHaveLength(1);

    let inner: Awaited<ReturnType<Database['tryWithLock']>> | undefined;
    const outer = await a.tryWithLock('source:ops', async () => {
      inner = await b.tryWithLock('source:ops', async () => 'second');
      return 'first';
    });
    expect(outer).toEqual({ acquired: true, value: 'first' });
    expect(inner).toEqual({ acquired: false });
    expect(await b.tryWithLock('source:ops', async () => 'after')).toEqual({ acquired: true, value: 'after' });
  });

  it('lets one process at a time open the embedded database in a folder, and takes over a dead owner\'s lock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventops-pglite-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const first = await openDatabase({ dataDir: dir });
    await expect(openDatabase({ dataDir: dir })).rejects.toThrow(`the embedded database in ${join(dir, 'pglite')} is in use by process ${process.pid}`);
    await first.db.insert(sources).values({ name: 'kept', type: 'local', location: '/x' });
    await first.close();
    // A process that has exited left its lock behind: the next start takes it over.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(dir, 'pglite.pid'), gone);
    const second = await openDatabase({ dataDir: dir });
    expect(await second.db.select({ name: sources.name }).from(sources)).toEqual([{ name: 'kept' }]);
    await second.close();
    expect(existsSync(join(dir, 'pglite.pid'))).toBe(false);
  });

  it('applies the same migrations on the embedded PGlite', async () => {
    const db = await openDatabase({ dataDir: '', inMemory: true });
    cleanup.push(() => db.close());
    await db.db.insert(sources).values({ name: 'local', type: 'local', location: '/tmp/defs' });
    const rows = await db.db.select().from(sources);
    expect(rows[0]).toMatchObject({ name: 'local', conditions: [], history: [] });
    const held = await db.tryWithLock('x', async () => db.tryWithLock('x', async () => 1));
    expect(held).toEqual({ acquired: true, value: { acquired: false } });
  });
});
