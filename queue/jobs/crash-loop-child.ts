// A child process for the driver contract's crash-loop test (not part of eventops): opens a driver
// on the storage named in its argument, enqueues one job whose handler kills this very process
// with SIGKILL (as an out-of-memory abort would), and works the queue. A start that does not die
// waits until the job is finished, prints it as a JSON line and exits 0. Run with `node --import tsx`.
import { writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Type } from '@sinclair/typebox';
import { openDatabase, type Database } from '../../schemas/database/index.js';
import { createBullmqDriver } from './bullmq-driver.js';
import { defineCatalog, defineJob } from './catalog.js';
import { createEmbeddedDriver } from './embedded-driver.js';
import type { QueueDriver } from './driver.js';

/** Where the child's driver keeps its jobs: the parent test's Redis prefix or PostgreSQL database. */
export type CrashChildStorage = { driver: 'bullmq'; redisUrl: string; prefix: string } | { driver: 'embedded'; databaseUrl: string };

export interface CrashChildArgs {
  storage: CrashChildStorage;
  key: string;
  maxCrashes: number;
  lockMs: number;
}

const crashCatalog = defineCatalog({
  crashes: {
    crash: defineJob({
      payload: Type.Object({ key: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      attempts: 5,
      backoff: { type: 'exponential', delayMs: 10 },
      jobId: (p) => `crash:${p.key}`,
    }),
  },
});

/** One JSON line on stdout, written synchronously so it is out before a SIGKILL. */
const say = (line: unknown) => writeSync(1, `${JSON.stringify(line)}\n`);

async function main(args: CrashChildArgs): Promise<void> {
  const onError = (error: unknown, where: string) => say({ driverError: where, message: error instanceof Error ? error.message : String(error) });
  let database: Database | undefined;
  let driver: QueueDriver<typeof crashCatalog>;
  const common = { catalog: crashCatalog, onError, maxCrashes: args.maxCrashes, lockMs: args.lockMs };
  if (args.storage.driver === 'bullmq') {
    driver = createBullmqDriver({ connection: args.storage.redisUrl, prefix: args.storage.prefix, ...common });
  } else {
    database = await openDatabase({ url: args.storage.databaseUrl, dataDir: tmpdir() });
    driver = createEmbeddedDriver({ db: database.db, pollMs: 20, ...common });
  }
  await driver.enqueue('crashes', 'crash', { key: args.key });
  let reported = false;
  await driver.work(
    {
      crash: async (_payload, ctx) => {
        say({ running: ctx.attempt });
        process.kill(process.pid, 'SIGKILL');
      },
    },
    {
      concurrency: 1,
      onFailed: (f) => {
        reported = true;
        say({ failed: { id: f.id, final: f.final, parked: f.parked ?? false, message: f.error instanceof Error ? f.error.message : String(f.error) } });
      },
    },
  );
  const deadline = Date.now() + 30_000;
  let finishedAt: number | undefined;
  for (;;) {
    const job = await driver.getJob('crashes', `crash:${args.key}`);
    if (job?.status === 'failed' || job?.status === 'completed') finishedAt ??= Date.now();
    // The failure report may follow the stored state by a moment: wait for it a little.
    if ((finishedAt !== undefined && (reported || Date.now() - finishedAt > 2_000)) || Date.now() > deadline) {
      say({ job });
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await driver.close();
  await database?.close();
}

main(JSON.parse(process.argv[2] ?? '{}') as CrashChildArgs).then(
  () => process.exit(0),
  (error: unknown) => {
    say({ error: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
