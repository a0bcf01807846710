// Opens the database eventops keeps its state in: PostgreSQL when a URL is configured, else the
// embedded PGlite in the data folder. Applies the committed migrations first (once, under an
// advisory lock, so several processes starting together do not race), and offers the one lock
// primitive the reconciler needs. Called by the composition root only.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as tables from './tables.js';
import { lockKey } from './lock-key.js';
import { lockFolder } from './folder-lock.js';
import { secureFolder } from './secure-folder.js';
import { campaignInProcess, campaignOnPostgres, type Campaign, type CampaignOptions } from './leadership.js';

export type Tables = typeof tables;
/** The drizzle database, whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Tables>;

export interface Database {
  db: Db;
  driver: 'postgres' | 'pglite';
  /**
   * Runs `fn` holding the lock named `key` across every process on this database (a Postgres
   * session advisory lock; in-process for PGlite, which one process owns). Does not wait:
   * when another holder has it, returns `{ acquired: false }`.
   */
  tryWithLock<T>(key: string, fn: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }>;
  /** Leader election among the processes on this database campaigning for `name` (see leadership.ts). */
  campaign(name: string, options: CampaignOptions): Campaign;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…`; absent → PGlite under `dataDir`. */
  url?: string;
  /** Folder for the embedded database (`<dataDir>/pglite`). */
  dataDir: string;
  /** PGlite only: keep everything in memory (tests). */
  inMemory?: boolean;
}

const MIGRATION_LOCK = 'eventops:migrations';

/** The committed migrations: next to this file in the source tree, or back in it from `dist/`. */
export function migrationsFolder(): string {
  const here = fileURLToPath(new URL('./migrations', import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL('../../../schemas/database/migrations', import.meta.url));
}


export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  return options.url ? openPostgres(options.url) : openPglite(options);
}

async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => undefined);
  const db = drizzle(pool, { schema: tables });
  const session = async <T>(key: string, wait: boolean, fn: () => Promise<T>) => {
    const client = await pool.connect();
    try {
      if (wait) await client.query('select pg_advisory_lock($1::bigint)', [lockKey(key)]);
      else {
        const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [lockKey(key)]);
        if (!rows[0]?.ok) return { acquired: false as const };
      }
      try {
        return { acquired: true as const, value: await fn() };
      } finally {
        await client.query('select pg_advisory_unlock($1::bigint)', [lockKey(key)]);
      }
    } finally {
      client.release();
    }
  };
  try {
    await session(MIGRATION_LOCK, true, () => migrate(db, { migrationsFolder: migrationsFolder() }));
  } catch (error) {
    await pool.end();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    db: db as unknown as Db,
    driver: 'postgres',
    tryWithLock: (key, fn) => session(key, false, fn),
    campaign: (name, options) => campaignOnPostgres(url, name, options),
    close: () => (closed ??= pool.end()),
  };
}

async function openPglite(options: OpenDatabaseOptions): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let dataDir: string | undefined;
  let release = () => undefined as void;
  if (!options.inMemory) {
    secureFolder(options.dataDir);
    dataDir = join(options.dataDir, 'pglite');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // The embedded database belongs to one process: a second one opening the same files would corrupt them.
    release = await lockFolder(join(options.dataDir, 'pglite.pid'), {
      what: `the embedded database in ${dataDir}`,
      hint: 'stop that eventops, or set DATABASE_URL to share a PostgreSQL server between processes',
    });
  }
  const client = new PGlite(dataDir);
  const db = drizzle(client, { schema: tables });
  try {
    await migrate(db, { migrationsFolder: migrationsFolder() });
    // PGlite's file layer made its files 0666 (it sets modes itself, ignoring the umask).
    if (dataDir) secureFolder(dataDir);
  } catch (error) {
    await client.close();
    release();
    throw error;
  }
  const held = new Set<string>();
  let closed: Promise<void> | undefined;
  return {
    db: db as unknown as Db,
    driver: 'pglite',
    async tryWithLock(key, fn) {
      if (held.has(key)) return { acquired: false };
      held.add(key);
      try {
        return { acquired: true, value: await fn() };
      } finally {
        held.delete(key);
      }
    },
    campaign: (_name, options) => campaignInProcess(options),
    close: () => (closed ??= client.close().finally(release)),
  };
}
