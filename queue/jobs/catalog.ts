// The queue catalog: every queue eventops uses, and for each job on it the payload schema, how
// many attempts it gets, its backoff and its deterministic job id. Both queue drivers read it, so
// a job behaves the same on BullMQ and on the embedded driver. Queues carry ids only (DESIGN.md
// §1): payloads are small objects of ids, closed to extra properties.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

/** Exponential backoff: attempt n waits `delayMs * 2^(n-1)` after failing (BullMQ's formula). */
export interface Backoff {
  type: 'exponential';
  delayMs: number;
}

/** One job of the catalog. */
export interface JobSpec<S extends TSchema = TSchema> {
  payload: S;
  /** Runs in all, the first included (1 = never retried). */
  attempts: number;
  backoff: Backoff;
  /**
   * The job's id, from its payload: adding a job whose id is already queued does nothing, which
   * is the dedupe. Method syntax on purpose: a spec of a narrower payload is still a `JobSpec`.
   */
  jobId(payload: Static<S>): string;
}

/** Queue name → job name → spec. Job names are unique across the whole catalog. */
export type Catalog = Record<string, Record<string, JobSpec>>;

export type QueueName<C extends Catalog> = keyof C & string;
export type JobName<C extends Catalog, Q extends QueueName<C>> = keyof C[Q] & string;
export type PayloadOf<C extends Catalog, Q extends QueueName<C>, J extends JobName<C, Q>> = Static<C[Q][J]['payload']>;
/** Every job name of the catalog, whatever its queue. */
export type AnyJobName<C extends Catalog> = { [Q in QueueName<C>]: JobName<C, Q> }[QueueName<C>];
/** The payload of the job called `J`, found in whichever queue declares it. */
export type PayloadOfJob<C extends Catalog, J extends string> = {
  [Q in QueueName<C>]: J extends JobName<C, Q> ? Static<C[Q][J]['payload']> : never;
}[QueueName<C>];

/** Declares one job; the payload type flows from the schema into `jobId` and the handlers. */
export function defineJob<S extends TSchema>(spec: JobSpec<S>): JobSpec<S> {
  if (!Number.isInteger(spec.attempts) || spec.attempts < 1) throw new Error(`attempts must be a whole number of at least 1, got ${spec.attempts}`);
  if (!(spec.backoff.delayMs >= 0)) throw new Error(`backoff.delayMs must be 0 or more, got ${spec.backoff.delayMs}`);
  return spec;
}

/** Declares a catalog; throws when two queues declare the same job name (handlers are keyed by job name). */
export function defineCatalog<const C extends Catalog>(catalog: C): C {
  const seen = new Map<string, string>();
  for (const [queue, jobs] of Object.entries(catalog)) {
    for (const job of Object.keys(jobs)) {
      const other = seen.get(job);
      if (other !== undefined) throw new Error(`job '${job}' is declared on queue '${other}' and on queue '${queue}': job names must be unique in a catalog`);
      seen.set(job, queue);
    }
  }
  return catalog;
}

/** A payload that does not match its job's schema: a programming error, never retried (stalling). */
export class InvalidPayloadError extends Error {
  readonly kind = 'stalling';
  readonly reason = 'InvalidPayload';
  constructor(
    readonly queue: string,
    readonly job: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid payload for job '${job}' on queue '${queue}': ${issues.join('; ')}`);
    this.name = 'InvalidPayloadError';
  }
}

const checks = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor(schema: TSchema): TypeCheck<TSchema> {
  let check = checks.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    checks.set(schema, check);
  }
  return check;
}

/** A job looked up in the catalog with its payload checked, ready for a driver to store. */
export interface ResolvedJob {
  queue: string;
  job: string;
  spec: JobSpec;
  /** The catalog's id (drivers may encode it for their store, e.g. BullMQ forbids `:`). */
  id: string;
  payload: unknown;
}

/**
 * Finds `queue`/`job` in the catalog and validates `payload` against its schema. Throws an
 * `InvalidPayloadError` (listing every issue with its JSON pointer) or, for a name the catalog
 * does not declare, a plain `Error`.
 */
export function resolveJob(catalog: Catalog, queue: string, job: string, payload: unknown): ResolvedJob {
  const spec = specOf(catalog, queue, job);
  const check = checkerFor(spec.payload);
  if (!check.Check(payload)) {
    const issues = [...check.Errors(payload)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new InvalidPayloadError(queue, job, issues);
  }
  return { queue, job, spec, id: spec.jobId(payload), payload };
}

/** The spec of `queue`/`job`; throws when the catalog does not declare it. */
export function specOf(catalog: Catalog, queue: string, job: string): JobSpec {
  const jobs = Object.hasOwn(catalog, queue) ? catalog[queue] : undefined;
  if (!jobs) throw new Error(`unknown queue '${queue}' (the catalog has ${Object.keys(catalog).join(', ')})`);
  const spec = Object.hasOwn(jobs, job) ? jobs[job] : undefined;
  if (!spec) throw new Error(`unknown job '${job}' on queue '${queue}' (it has ${Object.keys(jobs).join(', ')})`);
  return spec;
}

/** Milliseconds to wait after failed run number `attempt` (1-based) before the next one. */
export function backoffDelayMs(backoff: Backoff, attempt: number): number {
  return Math.round(backoff.delayMs * 2 ** Math.max(0, attempt - 1));
}

const Id = Type.String({ minLength: 1, maxLength: 200 });

/**
 * The queues of eventops. `events`: match one accepted event against the triggers. `runs`: start
 * a run, time it out. `tasks`: run one task of a run (`attempt` is the pipeline's own retry
 * number, part of the id so a retry of the task is a new job). Handlers are idempotent: each
 * checks the stored state under the run's lock before it acts, so a job run twice does nothing
 * twice.
 */
const RunId = Type.Object({ runId: Id }, { additionalProperties: false });

export const eventopsCatalog = defineCatalog({
  events: {
    'match-event': defineJob({
      payload: Type.Object({ eventId: Id }, { additionalProperties: false }),
      attempts: 5,
      backoff: { type: 'exponential', delayMs: 1_000 },
      jobId: (p) => `match-event:${p.eventId}`,
    }),
  },
  runs: {
    /** Create a pending run's tasks and start the ready ones (or wait for its concurrency group). */
    'start-run': defineJob({ payload: RunId, attempts: 5, backoff: { type: 'exponential', delayMs: 1_000 }, jobId: (p) => `start-run:${p.runId}` }),
    /** The run's `timeout` ran out: stop it as timed out (enqueued delayed when the run starts). */
    'run-timeout': defineJob({ payload: RunId, attempts: 5, backoff: { type: 'exponential', delayMs: 1_000 }, jobId: (p) => `run-timeout:${p.runId}` }),
  },
  tasks: {
    /** Run one attempt of one task on an actuator, then advance the run. */
    'run-task': defineJob({
      payload: Type.Object({ runId: Id, task: Id, attempt: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
      attempts: 5,
      backoff: { type: 'exponential', delayMs: 1_000 },
      jobId: (p) => `run-task:${p.runId}:${p.task}:${p.attempt}`,
    }),
  },
  reports: {
    /**
     * The check run `eventops/definitions` on the commit of a push or pull request to a source's
     * repository: its definitions validated (not applied) and the plan against the active revision.
     * One per event; the check run is one per commit. Retried like `report-run`.
     */
    'check-definitions': defineJob({
      payload: Type.Object({ eventId: Id }, { additionalProperties: false }),
      attempts: 12,
      backoff: { type: 'exponential', delayMs: 2_000 },
      jobId: (p) => `check-definitions:${p.eventId}`,
    }),
    /**
     * Bring what GitHub shows of a run (its check run, its sticky comment) up to the run's state
     * now. One job per transition of the run (`version`); each reads the current state, so one
     * that runs late or twice writes nothing stale, and one that finds a newer state reported does
     * nothing. Retried for about 2 hours, so a GitHub outage delays reports and never touches runs.
     */
    'report-run': defineJob({
      payload: Type.Object({ runId: Id, version: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
      attempts: 12,
      backoff: { type: 'exponential', delayMs: 2_000 },
      jobId: (p) => `report-run:${p.runId}:${p.version}`,
    }),
    /**
     * Send a run's CloudEvents (`run_events`) up to number `seq` to the runs' NATS subjects and to
     * the `notify` sinks that select them, each sink in order from where it stopped. One job per
     * transition; a later one sends what an earlier one could not. Retried for about 2 hours, so a
     * sink being down delays notifications and never touches runs.
     */
    'publish-run-events': defineJob({
      payload: Type.Object({ runId: Id, seq: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
      attempts: 12,
      backoff: { type: 'exponential', delayMs: 2_000 },
      jobId: (p) => `publish-run-events:${p.runId}:${p.seq}`,
    }),
    /** Act on and answer the slash-commands of a new GitHub comment (built-in commands, reactions, one reply), once it was matched. */
    'answer-comment': defineJob({
      payload: Type.Object({ eventId: Id }, { additionalProperties: false }),
      attempts: 12,
      backoff: { type: 'exponential', delayMs: 2_000 },
      jobId: (p) => `answer-comment:${p.eventId}`,
    }),
  },
});

export type EventopsCatalog = typeof eventopsCatalog;
