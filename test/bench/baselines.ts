// The raw operations the benchmarks are measured against, timed on the same machine in the same
// run as the measure beside them, so a ratio is measured, not copied: BullMQ's own `Queue.add`,
// a one-row PostgreSQL INSERT (autocommit, pg's Pool as eventops opens it), and the git CLI's
// `clone` and `ls-remote` over HTTP. Rates exclude a warm-up of a tenth of the count.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Runs `op` for 0…count-1 with at most `inFlight` at once; returns the rate per second. */
async function rate(count: number, inFlight: number, op: (n: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return (count / (performance.now() - start)) * 1000;
}

/** `Queue.add` of a small job with a unique id, `count` times with `inFlight` at once, under a fresh key prefix (removed after). */
export async function bullmqAddRate(options: { redisUrl: string; count: number; inFlight: number }): Promise<number> {
  const prefix = `eventops-bench-raw-${randomBytes(4).toString('hex')}`;
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('raw', { connection, prefix });
  try {
    await rate(Math.max(10, Math.round(options.count / 10)), options.inFlight, (n) => queue.add('raw', { eventId: `w${n}` }, { jobId: `w${n}` }));
    return await rate(options.count, options.inFlight, (n) => queue.add('raw', { eventId: `e${n}` }, { jobId: `e${n}` }));
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await connection.quit(); // a connection handed to BullMQ is not closed by it
  }
}

/**
 * One-row INSERTs (an id and a small jsonb, autocommit) into a table of their own in the
 * database at `url` (dropped after), `count` times with `inFlight` at once on a pool of
 * `poolSize` connections (eventops opens 10).
 */
export async function postgresInsertRate(options: { url: string; count: number; inFlight: number; poolSize?: number }): Promise<number> {
  const table = `bench_raw_insert_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
  try {
    await pool.query(`create table ${table} (id text primary key, payload jsonb not null, created_at timestamptz not null default now())`);
    const insert = (id: string) => pool.query(`insert into ${table} (id, payload) values ($1, $2)`, [id, JSON.stringify({ eventId: id })]);
    await rate(Math.max(10, Math.round(options.count / 10)), options.inFlight, (n) => insert(`w${n}`));
    return await rate(options.count, options.inFlight, (n) => insert(`e${n}`));
  } finally {
    await pool.query(`drop table if exists ${table}`).catch(() => undefined);
    await pool.end();
  }
}

/** Runs git without blocking this process (the git server of a benchmark may be in it); milliseconds to its exit. */
async function git(args: readonly string[], cwd: string): Promise<number> {
  const start = performance.now();
  const child = spawn('git', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`git ${args.join(' ')} failed (exit ${code}): ${stderr}`);
  return performance.now() - start;
}

/** Milliseconds of `git clone --quiet <url>` into a fresh temp folder (removed after) — checkout included, as the CLI does by default. */
export async function gitCloneMs(url: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'eventops-bench-clone-'));
  try {
    return await git(['clone', '--quiet', url, join(dir, 'clone')], dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds of `git ls-remote <url> HEAD`: one ref listing, what a no-op reconcile needs at least. */
export async function gitLsRemoteMs(url: string): Promise<number> {
  return git(['ls-remote', url, 'HEAD'], tmpdir());
}
