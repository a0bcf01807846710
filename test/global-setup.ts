// Runs once before the test suite: makes sure a PostgreSQL server is reachable. It uses
// TEST_DATABASE_URL, else the machine's server on 127.0.0.1:5432; when neither answers it
// starts a throwaway cluster with the installed PostgreSQL binaries (initdb as the `postgres`
// user) and stops it afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((bin) => existsSync(join(bin, 'initdb')));
}

export async function setup(): Promise<() => void> {
  const candidate = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await reachable(candidate)) {
    process.env.TEST_DATABASE_URL = candidate;
    return () => undefined;
  }
  const bin = postgresBin();
  if (!bin) throw new Error(`no PostgreSQL at ${candidate} and none installed: install postgresql or set TEST_DATABASE_URL`);
  const dir = mkdtempSync(join(tmpdir(), 'eventops-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = 54000 + Math.floor(Math.random() * 1000);
  const asPostgres = (cmd: string, args: string[]) =>
    process.getuid?.() === 0 ? execFileSync('su', ['postgres', '-c', [cmd, ...args].map((a) => `'${a}'`).join(' ')]) : execFileSync(cmd, args);
  asPostgres(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres']);
  asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-w', 'start']);
  process.env.TEST_DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return () => {
    asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  };
}
