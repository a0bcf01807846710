// Tokens in a real PostgreSQL database: only hashes are stored, names are unique, and the admin
// token is made once and written to a file only its owner can read.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiTokens, openDatabase, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createToken, ensureAdminToken, setAdminToken, hashToken, listTokens, TokenNameTakenError, verifyToken } from './index.js';

let test: TestDatabase;
let database: Database;
let dir: string;
beforeAll(async () => {
  test = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'eventops-auth-'));
  database = await openDatabase({ url: test.url, dataDir: dir });
});
afterAll(async () => {
  await database?.close();
  await test?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await database.db.delete(apiTokens);
});

describe('createToken and verifyToken', () => {
  it('stores the hash only and finds the token by it', async () => {
    const token = await createToken(database.db, { name: 'ci', scopes: ['events:write', 'runs:write'] });
    const rows = await database.db.select().from(apiTokens);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'ci', hash: hashToken(token), scopes: ['events:write', 'runs:write'], lastUsedAt: null });
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(await verifyToken(database.db, token)).toEqual({ name: 'ci', scopes: ['events:write', 'runs:write'] });
    expect(await verifyToken(database.db, `${token}x`)).toBeUndefined();
    expect(await verifyToken(database.db, '')).toBeUndefined();
  });

  it('refuses a second token of the same name and keeps the first', async () => {
    const first = await createToken(database.db, { name: 'ci', scopes: ['read'] });
    await expect(createToken(database.db, { name: 'ci', scopes: ['admin'] })).rejects.toThrow(TokenNameTakenError);
    await expect(createToken(database.db, { name: 'ci', scopes: ['admin'] })).rejects.toThrow('a token named "ci" exists already: pick another name');
    expect(await verifyToken(database.db, first)).toEqual({ name: 'ci', scopes: ['read'] });
    expect((await listTokens(database.db)).map((t) => [t.name, t.scopes])).toEqual([['ci', ['read']]]);
  });

  it('notes when a token was last used, at most once a minute', async () => {
    const token = await createToken(database.db, { name: 'ci', scopes: ['read'] });
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    await verifyToken(database.db, token, t0);
    expect((await listTokens(database.db))[0]?.lastUsedAt).toBe('2030-01-01T00:00:00.000Z');
    await verifyToken(database.db, token, t0 + 30_000);
    expect((await listTokens(database.db))[0]?.lastUsedAt).toBe('2030-01-01T00:00:00.000Z');
    await verifyToken(database.db, token, t0 + 60_000);
    expect((await listTokens(database.db))[0]?.lastUsedAt).toBe('2030-01-01T00:01:00.000Z');
  });
});

describe('ensureAdminToken', () => {
  it('makes the admin token once and writes it to <dataDir>/admin-token with mode 0600, creating the folder', async () => {
    const dataDir = join(dir, 'first', '.eventops');
    const made = await ensureAdminToken(database.db, dataDir);
    expect(made).toEqual({ created: true, file: join(dataDir, 'admin-token') });
    expect((await stat(made.file)).mode & 0o777).toBe(0o600);
    const token = (await readFile(made.file, 'utf8')).trim();
    expect(token).toMatch(/^eo_[A-Za-z0-9_-]{43}$/);
    expect(await verifyToken(database.db, token)).toEqual({ name: 'admin', scopes: ['admin'] });

    const again = await ensureAdminToken(database.db, dataDir);
    expect(again).toEqual({ created: false, file: made.file });
    expect((await readFile(made.file, 'utf8')).trim()).toBe(token);
    expect(await listTokens(database.db)).toHaveLength(1);
  });

  it('leaves an existing file alone when the token exists, and overwrites a stale one when it does not', async () => {
    const dataDir = join(dir, 'stale');
    await ensureAdminToken(database.db, join(dir, 'elsewhere'));
    const file = join(dataDir, 'admin-token');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir);
    await writeFile(file, 'eo_left-from-an-old-database\n');
    expect(await ensureAdminToken(database.db, dataDir)).toEqual({ created: false, file });
    expect(await readFile(file, 'utf8')).toBe('eo_left-from-an-old-database\n');

    await database.db.delete(apiTokens);
    expect((await ensureAdminToken(database.db, dataDir)).created).toBe(true);
    const token = (await readFile(file, 'utf8')).trim();
    expect(token).not.toBe('eo_left-from-an-old-database');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await verifyToken(database.db, token)).toMatchObject({ name: 'admin' });
  });

  it('makes one token when several servers start at once, and leaves no temporary file', async () => {
    const dataDir = join(dir, 'race');
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureAdminToken(database.db, dataDir)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await listTokens(database.db)).toHaveLength(1);
    const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    expect(await verifyToken(database.db, token)).toMatchObject({ name: 'admin' });
    expect(await readdir(dataDir)).toEqual(['admin-token']);
  });
});

describe('setAdminToken (server.adminToken)', () => {
  it('stores the given token as admin, replacing the one made before; a second value rotates it', async () => {
    await database.db.delete(apiTokens);
    const made = (await readFile((await ensureAdminToken(database.db, join(dir, 'given'))).file, 'utf8')).trim();
    const given = 'eo_given-by-the-operator-0123456789';
    await setAdminToken(database.db, `${given}\n`, 'EVENTOPS_ADMIN');
    expect(await verifyToken(database.db, given)).toEqual({ name: 'admin', scopes: ['admin'] });
    expect(await verifyToken(database.db, made)).toBeUndefined();
    await setAdminToken(database.db, 'another-long-enough-token-value-42', 'EVENTOPS_ADMIN');
    expect(await verifyToken(database.db, given)).toBeUndefined();
    expect(await verifyToken(database.db, 'another-long-enough-token-value-42')).toMatchObject({ name: 'admin' });
    expect(await listTokens(database.db)).toHaveLength(1);
  });

  it('refuses a short token, naming the secret and not its value', async () => {
    const error = await setAdminToken(database.db, 'short-pass', 'EVENTOPS_ADMIN').catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/secret EVENTOPS_ADMIN must hold a token of at least 24 characters/);
    expect((error as Error).message).not.toContain('short-pass');
  });
});
