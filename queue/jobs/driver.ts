// The one interface both queue drivers implement (BullMQ on Redis, embedded in the database), and
// the small pieces of behaviour they share: running a handler for a stored job, and the closing
// guard. The contract suite in `driver-contract.ts` holds every driver to it.
import type { AnyJobName, Catalog, JobName, PayloadOf, PayloadOfJob, QueueName } from './catalog.js';

export interface JobContext {
  /**
   * This run's number, 1 for the first. A run given back by a closing driver does not count; a run
   * lost to a crash counts on the embedded driver (BullMQ counts stalls apart, in `maxStalledCount`).
   * Crashes are also counted apart from attempts on both drivers: see `parkedMessage`.
   */
  attempt: number;
  /** Aborted when the driver gives up waiting for the handler (close timeout) or loses the job's lock. */
  signal: AbortSignal;
}

export type Handler<P> = (payload: P, ctx: JobContext) => Promise<void>;

/** One handler per job of the catalog: leaving one out is a type error. */
export type Handlers<C extends Catalog> = { [J in AnyJobName<C>]: Handler<PayloadOfJob<C, J>> };

export interface EnqueueOptions {
  /** Not run before this many milliseconds from now. */
  delayMs?: number;
}

/** One job for `enqueueMany`. */
export type EnqueueItem<C extends Catalog> = {
  [Q in QueueName<C>]: { [J in JobName<C, Q>]: { queue: Q; job: J; payload: PayloadOf<C, Q, J>; delayMs?: number } }[JobName<C, Q>];
}[QueueName<C>];

export interface EnqueueResult {
  /** The catalog's job id. */
  id: string;
  /** False when a job with this id was already there (nothing was added). */
  added: boolean;
}

/** What went wrong in one run of a job, for logs. */
export interface JobFailure {
  queue: string;
  job: string;
  id: string;
  attempt: number;
  /** No run follows: the job is now `failed`. */
  final: boolean;
  /** Failed because it was running when its process died `maxCrashes` times (a crash loop), not because it threw. */
  parked?: boolean;
  error: unknown;
}

export interface WorkOptions<C extends Catalog> {
  /** Jobs run at once, per queue. */
  concurrency: number;
  /** The queues this process works on; default all of the catalog's. */
  queues?: readonly QueueName<C>[];
  /** A handler's run failed (it is retried unless `final`). */
  onFailed?: (failure: JobFailure) => void;
}

export interface QueueStats {
  /** Includes delayed jobs and jobs waiting for their next attempt. */
  waiting: number;
  active: number;
  /** As far as retention keeps them. */
  completed: number;
  failed: number;
}

export type JobStatus = 'waiting' | 'active' | 'completed' | 'failed';

export interface JobInfo {
  id: string;
  job: string;
  status: JobStatus;
  payload: unknown;
  /** Runs counted so far (a running one included), as `JobContext.attempt` counts them. */
  attempts: number;
  /** The last failed run's message. */
  error?: string;
}

export interface QueueDriver<C extends Catalog> {
  readonly kind: 'bullmq' | 'embedded';
  readonly catalog: C;
  /**
   * Validates the payload and adds the job under its catalog id. Idempotent: when a job with that
   * id is already there (waiting, running, or finished and still retained) nothing is added and
   * `added` is false. Throws `InvalidPayloadError` for a payload that does not match its schema.
   */
  enqueue<Q extends QueueName<C>, J extends JobName<C, Q>>(queue: Q, job: J, payload: PayloadOf<C, Q, J>, options?: EnqueueOptions): Promise<EnqueueResult>;
  /** `enqueue` for many jobs in few round trips; validates them all before adding any. Results in input order. */
  enqueueMany(items: readonly EnqueueItem<C>[]): Promise<EnqueueResult[]>;
  /**
   * Starts working on the queues: up to `concurrency` jobs at once per queue. A run that throws
   * is retried after the job's backoff until its attempts are spent, then the job is `failed`
   * with the error's message. Once per driver. Resolves when the workers are running.
   */
  work(handlers: Handlers<C>, options: WorkOptions<C>): Promise<void>;
  stats(queue: QueueName<C>): Promise<QueueStats>;
  /** The job with this catalog id, if the store still has it. */
  getJob(queue: QueueName<C>, id: string): Promise<JobInfo | undefined>;
  /**
   * Stops taking jobs, waits for running ones (up to the driver's close timeout, then aborts their
   * signals and leaves them to be taken again once their lock expires) and closes the connections
   * it opened. Idempotent. Enqueueing afterwards throws.
   */
  close(): Promise<void>;
}

/**
 * The error of a job parked after a crash loop. A run lost to a crash (SIGKILL, an out-of-memory
 * abort) is normally taken again, but a job that itself kills the process would then kill every
 * restart: after `limits.jobs.maxCrashes` such runs the job is failed with this message instead.
 * Crashes are counted apart from attempts, which stay for errors a handler throws (with backoff).
 */
export function parkedMessage(id: string, crashes: number): string {
  return PARKED_TEMPLATE.replace('{id}', id).replace('{n}', `${crashes} time${crashes === 1 ? '' : 's'}`);
}

/** `parkedMessage` with `{id}` and `{n}` (the count and its noun) to fill in, for drivers that build it in SQL. */
export const PARKED_TEMPLATE = 'job {id} was running when its process died {n} (a crash loop?); parked — not retried (limits.jobs.maxCrashes)';

/** `error`'s message, for storing: an `Error`'s message, else its string form. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
}

/** The handler of a job name, from a map typed by the catalog (shared by the drivers). */
export function handlerFor(handlers: Record<string, Handler<never>>, job: string): Handler<unknown> | undefined {
  return Object.hasOwn(handlers, job) ? (handlers[job] as Handler<unknown>) : undefined;
}

/** `promise`'s value if it settles within `ms`, else `{ done: false }`; the timer never outlives the race. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ done: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `run` but stops waiting for it once `signal` aborts: a handler that ignores its signal
 * must not hold up a closing driver. A rejection that arrives after the abort belongs to a run
 * already given up (and released for another try), so it is deliberately dropped.
 */
export async function unlessAborted<T>(run: Promise<T>, signal: AbortSignal): Promise<{ aborted: false; value: T } | { aborted: true }> {
  if (signal.aborted) {
    run.catch(() => undefined);
    return { aborted: true };
  }
  let onAbort = () => undefined as void;
  const aborted = new Promise<{ aborted: true }>((resolve) => {
    onAbort = () => resolve({ aborted: true });
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const outcome = await Promise.race([run.then((value) => ({ aborted: false as const, value })), aborted]);
    if (outcome.aborted) run.catch(() => undefined);
    return outcome;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
