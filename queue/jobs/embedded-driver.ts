// The embedded queue driver: jobs live in the `queue_jobs` table of the database eventops already
// has (PostgreSQL or the embedded PGlite), so one process runs with no Redis and a restart loses
// nothing. Workers claim jobs with `for update skip locked` (several processes may share a
// PostgreSQL database), hold them with a lock that a heartbeat extends, and a job whose lock
// expired (its worker crashed) is taken again, unless such crashes happened `maxCrashes` times:
// then it is parked (failed), so a job that kills its process cannot crash-loop every restart.
// The `attempts` column doubles as a fencing token: a worker only finishes the run it claimed.
import { and, asc, eq, inArray, lt, lte, or, sql } from 'drizzle-orm';
import { queueJobs, type Db, type QueueJobRow } from '../../schemas/database/index.js';
import { DEFAULT_LIMITS } from '../../config/index.js';
import { backoffDelayMs, eventopsCatalog, resolveJob, specOf, type Catalog, type EventopsCatalog, type QueueName, type ResolvedJob } from './catalog.js';
import {
  errorMessage,
  handlerFor,
  PARKED_TEMPLATE,
  unlessAborted,
  withTimeout,
  type EnqueueResult,
  type Handlers,
  type JobInfo,
  type JobStatus,
  type QueueDriver,
  type QueueStats,
  type WorkOptions,
} from './driver.js';

export interface EmbeddedDriverOptions<C extends Catalog> {
  db: Db;
  /** Default: the eventops catalog. */
  catalog?: C;
  /** How often an idle worker looks for due jobs (delays are honoured to this precision). Default 200 ms. */
  pollMs?: number;
  /** How long a claim lasts without a heartbeat (the heartbeat renews it every third of that). Default 30 s. */
  lockMs?: number;
  /** How long `close` waits for running jobs before aborting them. Default 30 s. */
  closeTimeoutMs?: number;
  /** How long finished rows are kept (and so still deduplicated by id). Default: completed 24 h, failed 7 days. */
  retention?: { completedMs: number; failedMs: number };
  /**
   * A job whose claim expired this many times (its process died, or hung past `lockMs`, while
   * running it) is failed as parked instead of taken again. Default: limits.jobs.maxCrashes (2).
   */
  maxCrashes?: number;
  /** Database failures of the driver itself (it keeps trying). Default: a process warning. */
  onError?: (error: unknown, where: string) => void;
}

const CHUNK = 1_000;
const CLEANUP_EVERY_MS = 60_000;
const REAP_EVERY_MS = 1_000;

/** `ms` milliseconds as a SQL interval (a parameter, never spliced). */
const millis = (ms: number) => sql`(${Math.max(0, Math.round(ms))}::double precision * interval '1 millisecond')`;

interface InsertItem {
  resolved: ResolvedJob;
  delayMs: number | undefined;
}

interface Running {
  id: string;
  /** The row's `attempts` when claimed: the fencing token of this run. */
  attempts: number;
  controller: AbortController;
}

interface QueueLoop {
  queue: string;
  running: Map<string, Running>;
  wake(): void;
  done: Promise<void>;
  /** Settles when every run started by this loop has finished. */
  idle(): Promise<void>;
}

/** The embedded driver; see `QueueDriver` for the contract. Does not close `db` (it does not own it). */
export function createEmbeddedDriver<C extends Catalog = EventopsCatalog>(options: EmbeddedDriverOptions<C>): QueueDriver<C> {
  const catalog = (options.catalog ?? eventopsCatalog) as C;
  const { db } = options;
  const pollMs = options.pollMs ?? 200;
  const lockMs = options.lockMs ?? 30_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 30_000;
  const maxCrashes = options.maxCrashes ?? DEFAULT_LIMITS.jobs.maxCrashes;
  if (!Number.isInteger(maxCrashes) || maxCrashes < 1) throw new Error(`maxCrashes must be a whole number of at least 1, got ${maxCrashes}`);
  const retention = options.retention ?? { completedMs: 24 * 3600_000, failedMs: 7 * 24 * 3600_000 };
  const onError = options.onError ?? ((error: unknown, where: string) => process.emitWarning(`queue driver (embedded, ${where}): ${errorMessage(error)}`));
  const queueNames = Object.keys(catalog);

  const loops = new Map<string, QueueLoop>();
  let stopping = false;
  let abandoning = false;
  let working = false;
  let closing: Promise<void> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let heartbeatRun: Promise<void> = Promise.resolve();
  let lastCleanup = 0;

  function assertOpen(): void {
    if (closing) throw new Error('the queue driver (embedded) is closed');
  }

  function row(resolved: ResolvedJob, delayMs: number | undefined) {
    return {
      id: resolved.id,
      queue: resolved.queue,
      name: resolved.job,
      payload: resolved.payload,
      maxAttempts: resolved.spec.attempts,
      ...(delayMs !== undefined && delayMs > 0 ? { runAt: sql`now() + ${millis(delayMs)}` } : {}),
    };
  }

  async function insert(items: readonly InsertItem[]): Promise<EnqueueResult[]> {
    const inserted = new Set<string>();
    for (let i = 0; i < items.length; i += CHUNK) {
      const chunk = items.slice(i, i + CHUNK);
      const rows = await db
        .insert(queueJobs)
        .values(chunk.map((item) => row(item.resolved, item.delayMs)))
        .onConflictDoNothing({ target: queueJobs.id })
        .returning({ id: queueJobs.id });
      for (const r of rows) inserted.add(r.id);
    }
    for (const item of items) if (inserted.has(item.resolved.id)) loops.get(item.resolved.queue)?.wake();
    // Only the first of several items with one id in a batch can have added it.
    return items.map(({ resolved }) => {
      const added = inserted.delete(resolved.id);
      return { id: resolved.id, added };
    });
  }

  /** Single enqueues waiting for the next batched insert. */
  let inserts: { item: InsertItem; resolve: (result: EnqueueResult) => void; reject: (error: unknown) => void }[] = [];

  /** Enqueues made in the same turn of the event loop (concurrent webhook deliveries…) share one insert. */
  async function flushInserts(): Promise<void> {
    const batch = inserts;
    inserts = [];
    try {
      const results = await insert(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i] as EnqueueResult));
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }

  async function claim(queue: string, limit: number): Promise<QueueJobRow[]> {
    const due = db
      .select({ id: queueJobs.id })
      .from(queueJobs)
      .where(and(eq(queueJobs.queue, queue), eq(queueJobs.status, 'waiting'), lte(queueJobs.runAt, sql`now()`)))
      .orderBy(asc(queueJobs.runAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    const rows = await db
      .update(queueJobs)
      .set({ status: 'active', attempts: sql`${queueJobs.attempts} + 1`, lockedUntil: sql`now() + ${millis(lockMs)}` })
      .where(inArray(queueJobs.id, due))
      .returning();
    return rows.sort((a, b) => a.runAt.getTime() - b.runAt.getTime());
  }

  /**
   * Claims whose lock expired (their worker crashed or hung): one more crash counted, then back to
   * waiting; failed when that was the last attempt, or parked (failed, reported as such) at
   * `maxCrashes`. The expressions read the row as it was before this update.
   */
  async function reap(queue: string, workOptions: WorkOptions<C>): Promise<void> {
    const parked = sql`${queueJobs.crashes} + 1 >= ${maxCrashes}::int`;
    const spent = sql`${queueJobs.attempts} >= ${queueJobs.maxAttempts}`;
    const lost = sql`'the worker running attempt ' || ${queueJobs.attempts} || ' stopped renewing its lock (crashed or hung)'`;
    const count = sql`${queueJobs.crashes} + 1`;
    const parkedError = sql`replace(replace(${PARKED_TEMPLATE}::text, '{id}', ${queueJobs.id}), '{n}', ${count} || case when ${count} = 1 then ' time' else ' times' end)`;
    const reaped = await db
      .update(queueJobs)
      .set({
        crashes: sql`${queueJobs.crashes} + 1`,
        status: sql`case when ${parked} or ${spent} then 'failed' else 'waiting' end`,
        lastError: sql`case when ${parked} then ${parkedError} else ${lost} end`,
        finishedAt: sql`case when ${parked} or ${spent} then now() end`,
        runAt: sql`now()`,
        lockedUntil: null,
      })
      .where(and(eq(queueJobs.queue, queue), eq(queueJobs.status, 'active'), lt(queueJobs.lockedUntil, sql`now()`)))
      .returning({ id: queueJobs.id, name: queueJobs.name, attempts: queueJobs.attempts, crashes: queueJobs.crashes, status: queueJobs.status, lastError: queueJobs.lastError });
    for (const job of reaped) {
      if (job.status !== 'failed') continue;
      const isParked = job.crashes >= maxCrashes;
      const message = job.lastError ?? 'its worker stopped renewing its lock';
      workOptions.onFailed?.({ queue, job: job.name, id: job.id, attempt: job.attempts, final: true, ...(isParked ? { parked: true } : {}), error: new Error(message) });
    }
  }

  /** The claimed run, still ours: same attempt, still active. */
  const ours = (run: Running) => and(eq(queueJobs.id, run.id), eq(queueJobs.attempts, run.attempts), eq(queueJobs.status, 'active'));

  /** Completions waiting for the next batched update. */
  let completions: { run: Running; settle: (error?: unknown) => void }[] = [];

  /** Marks the run completed: runs finishing in the same turn of the event loop share one update. */
  function complete(run: Running): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      completions.push({ run, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      if (completions.length === 1) setImmediate(flushCompletions);
    });
  }

  async function flushCompletions(): Promise<void> {
    const batch = completions;
    completions = [];
    try {
      const claims = sql.join(
        batch.map(({ run }) => sql`(${run.id}, ${run.attempts}::int)`),
        sql`, `,
      );
      await db
        .update(queueJobs)
        .set({ status: 'completed', finishedAt: sql`now()`, lockedUntil: null })
        .where(
          and(
            inArray(
              queueJobs.id,
              batch.map(({ run }) => run.id),
            ),
            eq(queueJobs.status, 'active'),
            sql`(${queueJobs.id}, ${queueJobs.attempts}) in (${claims})`,
          ),
        );
      for (const c of batch) c.settle();
    } catch (error) {
      for (const c of batch) c.settle(error ?? new Error('completing jobs failed'));
    }
  }

  async function fail(run: Running, job: QueueJobRow, error: unknown, retry: boolean): Promise<boolean> {
    const message = errorMessage(error);
    if (retry && job.attempts < job.maxAttempts) {
      const delay = backoffDelayMs(specOf(catalog, job.queue, job.name).backoff, job.attempts);
      await db.update(queueJobs).set({ status: 'waiting', runAt: sql`now() + ${millis(delay)}`, lastError: message, lockedUntil: null }).where(ours(run));
      return false;
    }
    await db.update(queueJobs).set({ status: 'failed', finishedAt: sql`now()`, lastError: message, lockedUntil: null }).where(ours(run));
    return true;
  }

  /** Gives back a run that closing stopped waiting for: waiting again at once, the attempt not spent. */
  async function release(run: Running): Promise<void> {
    await db
      .update(queueJobs)
      .set({ status: 'waiting', attempts: sql`${queueJobs.attempts} - 1`, runAt: sql`now()`, lockedUntil: null })
      .where(ours(run));
  }

  async function runJob(handlers: Handlers<C>, workOptions: WorkOptions<C>, job: QueueJobRow, run: Running): Promise<void> {
    const handler = handlerFor(handlers, job.name);
    let resolved: ResolvedJob;
    try {
      if (!handler) throw new Error(`no handler for job '${job.name}' on queue '${job.queue}'`);
      resolved = resolveJob(catalog, job.queue, job.name, job.payload);
    } catch (error) {
      // Stored by another version of eventops: retrying cannot fix it.
      await fail(run, job, error, false);
      workOptions.onFailed?.({ queue: job.queue, job: job.name, id: job.id, attempt: job.attempts, final: true, error });
      return;
    }
    const signal = run.controller.signal;
    let outcome: Awaited<ReturnType<typeof unlessAborted>>;
    try {
      outcome = await unlessAborted(
        Promise.resolve().then(() => handler(resolved.payload, { attempt: job.attempts, signal })),
        signal,
      );
    } catch (error) {
      if (signal.aborted && abandoning) return release(run);
      const final = await fail(run, job, error, true);
      workOptions.onFailed?.({ queue: job.queue, job: job.name, id: job.id, attempt: job.attempts, final, error });
      return;
    }
    if (!outcome.aborted) return complete(run);
    // Aborted: either closing gave up on it, or the heartbeat found the claim lost (another worker owns it now).
    if (abandoning) await release(run);
  }

  function startLoop(queue: string, handlers: Handlers<C>, workOptions: WorkOptions<C>): QueueLoop {
    const running = new Map<string, Running>();
    const started = new Set<Promise<void>>();
    let woken = false;
    let wakeUp: (() => void) | undefined;
    let lastReap = 0;
    let errors = 0;
    const wake = () => {
      woken = true;
      wakeUp?.();
    };
    const nap = (ms: number) =>
      new Promise<void>((resolve) => {
        if (woken || stopping) return resolve();
        const done = () => {
          clearTimeout(timer);
          wakeUp = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakeUp = done;
      });
    const start = (job: QueueJobRow) => {
      const run: Running = { id: job.id, attempts: job.attempts, controller: new AbortController() };
      running.set(job.id, run);
      const p: Promise<void> = runJob(handlers, workOptions, job, run)
        .catch((error: unknown) => onError(error, `job ${job.id}`))
        .finally(() => {
          running.delete(job.id);
          started.delete(p);
          wake();
        });
      started.add(p);
    };
    const loop = async () => {
      while (!stopping) {
        woken = false;
        let full = false;
        try {
          if (Date.now() - lastReap >= REAP_EVERY_MS) {
            await reap(queue, workOptions);
            lastReap = Date.now();
          }
          const free = workOptions.concurrency - running.size;
          if (free > 0) {
            const jobs = await claim(queue, free);
            for (const job of jobs) start(job);
            // Every free slot was filled: more may be due, look again at once.
            full = jobs.length === free;
          }
          errors = 0;
        } catch (error) {
          errors++;
          onError(error, `queue ${queue}`);
        }
        if (!full) await nap(errors ? Math.min(pollMs * 2 ** errors, 5_000) : pollMs);
      }
    };
    return {
      queue,
      running,
      wake,
      done: loop(),
      idle: async () => {
        while (started.size > 0) await Promise.all(started);
      },
    };
  }

  /** Extends the locks of every running job; aborts the runs whose claim was lost. Also prunes old finished rows. */
  async function beat(): Promise<void> {
    const mine = [...loops.values()].flatMap((l) => [...l.running.values()]);
    if (mine.length > 0) {
      const renewed = await db
        .update(queueJobs)
        .set({ lockedUntil: sql`now() + ${millis(lockMs)}` })
        .where(and(inArray(queueJobs.id, mine.map((r) => r.id)), eq(queueJobs.status, 'active')))
        .returning({ id: queueJobs.id, attempts: queueJobs.attempts });
      const held = new Map(renewed.map((r) => [r.id, r.attempts]));
      for (const run of mine) {
        if (held.get(run.id) !== run.attempts && !run.controller.signal.aborted) {
          run.controller.abort(new Error(`the claim on job ${run.id} was lost (its lock expired and it was taken again)`));
        }
      }
    }
    if (Date.now() - lastCleanup >= CLEANUP_EVERY_MS) {
      lastCleanup = Date.now();
      await db
        .delete(queueJobs)
        .where(
          and(
            inArray(queueJobs.queue, queueNames),
            or(
              and(eq(queueJobs.status, 'completed'), lt(queueJobs.finishedAt, sql`now() - ${millis(retention.completedMs)}`)),
              and(eq(queueJobs.status, 'failed'), lt(queueJobs.finishedAt, sql`now() - ${millis(retention.failedMs)}`)),
            ),
          ),
        );
    }
  }

  function scheduleBeat(): void {
    heartbeat = setTimeout(() => {
      heartbeatRun = beat()
        .catch((error: unknown) => onError(error, 'heartbeat'))
        .finally(() => {
          if (heartbeat) scheduleBeat();
        });
    }, lockMs / 3);
  }

  async function closeAll(): Promise<void> {
    stopping = true;
    for (const loop of loops.values()) loop.wake();
    await Promise.all([...loops.values()].map((l) => l.done));
    const idle = Promise.all([...loops.values()].map((l) => l.idle()));
    if (!(await withTimeout(idle, closeTimeoutMs)).done) {
      abandoning = true;
      for (const loop of loops.values()) for (const run of loop.running.values()) run.controller.abort(new Error('the queue driver is closing'));
      if (!(await withTimeout(idle, 5_000)).done) onError(new Error('running jobs were not released within 5 s of aborting them'), 'close');
    }
    clearTimeout(heartbeat);
    heartbeat = undefined;
    await heartbeatRun;
  }

  return {
    kind: 'embedded',
    catalog,
    async enqueue(queue, job, payload, enqueueOptions) {
      assertOpen();
      const item = { resolved: resolveJob(catalog, queue, job, payload), delayMs: enqueueOptions?.delayMs };
      return new Promise<EnqueueResult>((resolve, reject) => {
        inserts.push({ item, resolve, reject });
        if (inserts.length === 1) setImmediate(flushInserts);
      });
    },
    async enqueueMany(items) {
      assertOpen();
      const resolved = items.map((item) => ({ resolved: resolveJob(catalog, item.queue, item.job, item.payload), delayMs: item.delayMs }));
      return insert(resolved);
    },
    async work(handlers, workOptions) {
      assertOpen();
      if (working) throw new Error('work() was already called on this queue driver');
      if (!Number.isInteger(workOptions.concurrency) || workOptions.concurrency < 1) throw new Error(`concurrency must be a whole number of at least 1, got ${workOptions.concurrency}`);
      const names = workOptions.queues ?? (Object.keys(catalog) as QueueName<C>[]);
      for (const name of names) if (!Object.hasOwn(catalog, name)) throw new Error(`unknown queue '${name}' (the catalog has ${queueNames.join(', ')})`);
      working = true;
      for (const name of names) loops.set(name, startLoop(name, handlers, workOptions));
      scheduleBeat();
    },
    async stats(queue): Promise<QueueStats> {
      const rows = await db
        .select({ status: queueJobs.status, n: sql<number>`count(*)::int` })
        .from(queueJobs)
        .where(eq(queueJobs.queue, queue))
        .groupBy(queueJobs.status);
      const n = (status: JobStatus) => Number(rows.find((r) => r.status === status)?.n ?? 0);
      return { waiting: n('waiting'), active: n('active'), completed: n('completed'), failed: n('failed') };
    },
    async getJob(queue, id): Promise<JobInfo | undefined> {
      const [job] = await db
        .select()
        .from(queueJobs)
        .where(and(eq(queueJobs.queue, queue), eq(queueJobs.id, id)));
      if (!job) return undefined;
      return {
        id: job.id,
        job: job.name,
        status: job.status as JobStatus,
        payload: job.payload,
        attempts: job.attempts,
        ...(job.lastError !== null ? { error: job.lastError } : {}),
      };
    },
    close: () => (closing ??= closeAll()),
  };
}
