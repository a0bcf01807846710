// The production queue driver: BullMQ on Redis, one BullMQ Queue per catalog queue and one
// Worker per queue worked on. Every Redis connection is opened by the factory (producers) or by
// `work` (workers), and `close` ends them all. A job whose worker died while running it is a
// "stalled" job to BullMQ: taken again, and failed once it stalled `maxCrashes` times (parked, so
// a job that kills its process cannot crash-loop every restart).
import { Queue, UnrecoverableError, WaitingError, Worker, type Job, type JobsOptions, type KeepJobs } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { DEFAULT_LIMITS } from '../../config/index.js';
import { eventopsCatalog, resolveJob, type Catalog, type EventopsCatalog, type QueueName, type ResolvedJob } from './catalog.js';
import {
  errorMessage,
  handlerFor,
  parkedMessage,
  unlessAborted,
  withTimeout,
  type EnqueueResult,
  type Handlers,
  type JobInfo,
  type QueueDriver,
  type QueueStats,
  type WorkOptions,
} from './driver.js';

export interface BullmqDriverOptions<C extends Catalog> {
  /** `redis://…` or ioredis options. */
  connection: string | RedisOptions;
  /** Key prefix of every BullMQ key (`<prefix>:<queue>:…`). */
  prefix: string;
  /** Default: the eventops catalog. */
  catalog?: C;
  /** How long `close` waits for running jobs before aborting them. Default 30 s. */
  closeTimeoutMs?: number;
  /**
   * Finished jobs kept in Redis (and so still deduplicated by id). Default: completed for 24 h
   * (at most 10,000 per queue), failed for 7 days (at most 50,000).
   */
  retention?: { completed: KeepJobs; failed: KeepJobs };
  /**
   * A job that stalled this many times (its worker died, or hung past `lockMs`, while running it)
   * is failed as parked instead of taken again. Default: limits.jobs.maxCrashes (2).
   */
  maxCrashes?: number;
  /** How long a worker's lock on a running job lasts without renewal; also how often stalled jobs are looked for. Default 30 s. */
  lockMs?: number;
  /** Connection errors and other failures of the driver itself. Default: a process warning. */
  onError?: (error: unknown, where: string) => void;
}

/** The reason BullMQ fails a job with once it stalled more than `maxStalledCount` times. */
const STALLED_TOO_OFTEN = 'job stalled more than allowable limit';

const DEFAULT_RETENTION = {
  completed: { age: 24 * 3600, count: 10_000 },
  failed: { age: 7 * 24 * 3600, count: 50_000 },
} satisfies BullmqDriverOptions<Catalog>['retention'];

/**
 * BullMQ forbids `:` in custom job ids; the catalog's ids use it as a separator. Percent-encoding
 * `%` and `:` keeps the mapping one-to-one (a plain `:`→`_` could make two ids collide).
 */
export function bullmqJobId(id: string): string {
  return id.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
}

/** The catalog id of a BullMQ job id made by `bullmqJobId`. */
function catalogJobId(id: string): string {
  return id.replace(/%(25|3A)/g, (_, code: string) => (code === '25' ? '%' : ':'));
}

/** The BullMQ driver; see `QueueDriver` for the contract. */
export function createBullmqDriver<C extends Catalog = EventopsCatalog>(options: BullmqDriverOptions<C>): QueueDriver<C> {
  const catalog = (options.catalog ?? eventopsCatalog) as C;
  const { prefix } = options;
  const closeTimeoutMs = options.closeTimeoutMs ?? 30_000;
  const retention = options.retention ?? DEFAULT_RETENTION;
  const maxCrashes = options.maxCrashes ?? DEFAULT_LIMITS.jobs.maxCrashes;
  if (!Number.isInteger(maxCrashes) || maxCrashes < 1) throw new Error(`maxCrashes must be a whole number of at least 1, got ${maxCrashes}`);
  const lockMs = options.lockMs ?? 30_000;
  const onError = options.onError ?? ((error: unknown, where: string) => process.emitWarning(`queue driver (bullmq, ${where}): ${errorMessage(error)}`));

  // Producers fail fast when Redis is away (the sweeper re-enqueues from Postgres later);
  // workers wait for it forever, as BullMQ requires of blocking connections.
  const producer = openRedis(options.connection, { maxRetriesPerRequest: 3 }, 'producer');
  let consumer: Redis | undefined;
  const queues = new Map<string, Queue>();
  for (const name of Object.keys(catalog)) {
    const queue = new Queue(name, { connection: producer, prefix });
    queue.on('error', (error) => onError(error, `queue ${name}`));
    queues.set(name, queue);
  }
  const workers: Worker[] = [];
  let closing: Promise<void> | undefined;
  /** Set when `close` stopped waiting: aborted runs go back to waiting instead of failing. */
  let abandoning = false;

  function openRedis(connection: string | RedisOptions, extra: RedisOptions, role: string): Redis {
    const client = typeof connection === 'string' ? new Redis(connection, extra) : new Redis({ ...connection, ...extra });
    client.on('error', (error: unknown) => onError(error, `redis ${role}`));
    return client;
  }

  function queueOf(name: string): Queue {
    const queue = queues.get(name);
    if (!queue) throw new Error(`unknown queue '${name}' (the catalog has ${[...queues.keys()].join(', ')})`);
    return queue;
  }

  function assertOpen(): void {
    if (closing) throw new Error(`the queue driver (bullmq, prefix '${prefix}') is closed`);
  }

  function jobOptions(resolved: ResolvedJob, delayMs: number | undefined): JobsOptions {
    return {
      jobId: bullmqJobId(resolved.id),
      attempts: resolved.spec.attempts,
      backoff: { type: 'exponential', delay: resolved.spec.backoff.delayMs },
      ...(delayMs !== undefined && delayMs > 0 ? { delay: Math.round(delayMs) } : {}),
      removeOnComplete: retention.completed,
      removeOnFail: retention.failed,
    };
  }

  async function stats(name: string): Promise<QueueStats> {
    const c = await queueOf(name).getJobCounts('wait', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed');
    const n = (key: string) => c[key] ?? 0;
    return {
      waiting: n('wait') + n('delayed') + n('prioritized') + n('waiting-children'),
      active: n('active'),
      completed: n('completed'),
      failed: n('failed'),
    };
  }

  async function getJob(name: string, id: string): Promise<JobInfo | undefined> {
    const job = await queueOf(name).getJob(bullmqJobId(id));
    if (!job) return undefined;
    const state = await job.getState();
    if (state === 'unknown') return undefined;
    const status = state === 'completed' || state === 'failed' || state === 'active' ? state : 'waiting';
    return {
      id,
      job: job.name,
      status,
      payload: job.data,
      attempts: job.attemptsMade + (status === 'active' ? 1 : 0),
      ...(job.failedReason ? { error: failedReason(id, job) } : {}),
    };
  }

  /** The job's failure as eventops words it: BullMQ's own reason for a crash loop says neither what nor what to do. */
  function failedReason(id: string, job: Job): string {
    return job.failedReason === STALLED_TOO_OFTEN ? parkedMessage(id, job.stalledCounter) : job.failedReason;
  }

  async function work(handlers: Handlers<C>, workOptions: WorkOptions<C>): Promise<void> {
    assertOpen();
    if (consumer) throw new Error('work() was already called on this queue driver');
    if (!Number.isInteger(workOptions.concurrency) || workOptions.concurrency < 1) throw new Error(`concurrency must be a whole number of at least 1, got ${workOptions.concurrency}`);
    const names = workOptions.queues ?? (Object.keys(catalog) as QueueName<C>[]);
    for (const name of names) queueOf(name);
    consumer = openRedis(options.connection, { maxRetriesPerRequest: null }, 'worker');
    for (const name of names) {
      const processor = async (job: Job, token?: string, signal?: AbortSignal): Promise<void> => {
        const handler = handlerFor(handlers, job.name);
        const attempt = job.attemptsMade + 1;
        let resolved: ResolvedJob;
        try {
          if (!handler) throw new Error(`no handler for job '${job.name}' on queue '${name}'`);
          resolved = resolveJob(catalog, name, job.name, job.data);
        } catch (error) {
          // Stored by another version of eventops: retrying cannot fix it.
          workOptions.onFailed?.({ queue: name, job: job.name, id: catalogJobId(job.id ?? ''), attempt, final: true, error });
          throw new UnrecoverableError(errorMessage(error));
        }
        const controller = new AbortController();
        const abort = signal ?? controller.signal;
        try {
          const outcome = await unlessAborted(handler(resolved.payload, { attempt, signal: abort }), abort);
          if (!outcome.aborted) return;
          if (abandoning && token) {
            // Closing gave up on this run: back to waiting at once, without spending an attempt.
            await job.moveToWait(token);
            throw new WaitingError();
          }
          throw new Error(`job ${resolved.id} was aborted: ${errorMessage(abort.reason)}`);
        } catch (error) {
          if (error instanceof WaitingError) throw error;
          const final = job.attemptsMade + 1 >= resolved.spec.attempts;
          workOptions.onFailed?.({ queue: name, job: job.name, id: resolved.id, attempt, final, error });
          throw error instanceof Error ? error : new Error(errorMessage(error));
        }
      };
      // BullMQ fails a job once its stall count goes past maxStalledCount: the `maxCrashes`th stall.
      const worker = new Worker(name, processor, {
        connection: consumer,
        prefix,
        concurrency: workOptions.concurrency,
        autorun: true,
        maxStalledCount: maxCrashes - 1,
        lockDuration: lockMs,
        stalledInterval: lockMs,
      });
      worker.on('error', (error) => onError(error, `worker ${name}`));
      // A job failed for stalling never reaches the processor: report it here.
      worker.on('failed', (job, error) => {
        if (!job || error.message !== STALLED_TOO_OFTEN) return;
        const id = catalogJobId(job.id ?? '');
        workOptions.onFailed?.({ queue: name, job: job.name, id, attempt: job.attemptsMade, final: true, parked: true, error: new Error(parkedMessage(id, job.stalledCounter)) });
      });
      // BullMQ only reports a lost lock; the contract says the handler's signal aborts.
      worker.on('lockRenewalFailed', (ids) => {
        for (const id of ids) worker.cancelJob(id, `the lock on job ${id} was lost (another worker may run it)`);
      });
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  }

  async function closeAll(): Promise<void> {
    const graceful = Promise.all(workers.map((w) => w.close()));
    if (!(await withTimeout(graceful, closeTimeoutMs)).done) {
      abandoning = true;
      for (const w of workers) w.cancelAllJobs('the queue driver is closing');
      // Aborted runs are released at once; only a Redis that stopped answering keeps us here.
      if (!(await withTimeout(graceful, 5_000)).done) onError(new Error('workers did not stop within 5 s of aborting their jobs'), 'close');
    }
    await Promise.all([...queues.values()].map((q) => withTimeout(q.close(), 5_000)));
    await Promise.all([producer, consumer].map((client) => client && quit(client)));
  }

  async function quit(client: Redis): Promise<void> {
    try {
      if (!(await withTimeout(client.quit(), 2_000)).done) client.disconnect();
    } catch (error) {
      onError(error, 'close');
      client.disconnect();
    }
  }

  return {
    kind: 'bullmq',
    catalog,
    async enqueue(queue, job, payload, enqueueOptions) {
      assertOpen();
      const resolved = resolveJob(catalog, queue, job, payload);
      const bq = queueOf(queue);
      const opts = jobOptions(resolved, enqueueOptions?.delayMs);
      // BullMQ answers a duplicate id exactly like a new job. EXISTS goes first on the same
      // connection, so it sees the state just before the add; only a racing add of the same id
      // from elsewhere can make both callers report `added` (BullMQ still stores one job).
      const [existed] = await Promise.all([producer.exists(bq.toKey(opts.jobId as string)), bq.add(job, resolved.payload, opts)]);
      return { id: resolved.id, added: existed === 0 };
    },
    async enqueueMany(items) {
      assertOpen();
      const resolved = items.map((item) => ({ resolved: resolveJob(catalog, item.queue, item.job, item.payload), delayMs: item.delayMs }));
      if (resolved.length === 0) return [];
      const byQueue = new Map<string, { name: string; data: unknown; opts: JobsOptions }[]>();
      const check = producer.pipeline();
      for (const { resolved: r, delayMs } of resolved) {
        const opts = jobOptions(r, delayMs);
        check.exists(queueOf(r.queue).toKey(opts.jobId as string));
        const list = byQueue.get(r.queue) ?? [];
        list.push({ name: r.job, data: r.payload, opts });
        byQueue.set(r.queue, list);
      }
      const [existing] = await Promise.all([check.exec(), ...[...byQueue].map(([name, jobs]) => queueOf(name).addBulk(jobs))]);
      const seen = new Set<string>();
      return resolved.map(({ resolved: r }, i): EnqueueResult => {
        const [error, count] = existing?.[i] ?? [new Error('no reply')];
        if (error) throw error;
        const added = count === 0 && !seen.has(`${r.queue}\0${r.id}`);
        seen.add(`${r.queue}\0${r.id}`);
        return { id: r.id, added };
      });
    },
    work,
    stats,
    getJob,
    close: () => (closing ??= closeAll()),
  };
}
