// The reconciler of a process: one loop per configured source. A source reconciles every
// `interval` (plus up to 10% jitter, so many processes do not fetch in step), at once when asked
// (`requestReconcile`, the push webhook, the API) or when its folder changes, and after a
// transient failure again with exponential backoff. Requests during a reconcile coalesce into one
// follow-up. A Postgres advisory lock per source makes one process act on a source at a time.
import type { Logger } from 'pino';
import type { Limits, SecretStore, SourceConfig } from '../config/index.js';
import type { Database } from '../schemas/database/index.js';
import { SourceError } from './errors.js';
import type { SourceMemory, SourceStats } from './reconcile-context.js';
import { UnknownSourceError, type ReconcileResult, type Reconciler } from './reconciler.js';
import { runReconcile } from './run-reconcile.js';
import { loadSourceState, registerSources, sourceConfigHash } from './source-registry.js';
import { openSource } from './open-source.js';
import type { DefinitionSource } from './sources/source.js';
import { redact } from './sources/sanitize.js';

export interface ReconcilerDeps {
  database: Database;
  sources: readonly SourceConfig[];
  /** Git caches go under `<dataDir>/cache/git/<source>`. */
  dataDir: string;
  secrets: SecretStore;
  /** Time and memory budget of each git fetch (default DEFAULT_LIMITS.git). */
  gitLimits?: Limits['git'];
  logger: Logger;
  /** `limits.yaml`: aliases a definition file may use (default DEFAULT_LIMITS.yaml). */
  yaml?: Limits['yaml'];
  now?: () => Date;
  random?: () => number;
  /** Backoff after transient failures: `initialMs` doubling up to `maxMs` (default 1s → min(interval, 5m)). */
  retry?: { initialMs?: number; maxMs?: number };
  /** Start the interval timers and folder watches (default true; tests drive reconciles by hand). */
  schedule?: boolean;
  /** Told of every reconcile that ran here (not of one another process held the lock for), for metrics. */
  onReconciled?: (result: ReconcileResult) => void;
}

export interface ProcessReconciler extends Reconciler {
  /** What reconciles of `source` did in this process (for tests and benchmarks). */
  stats(source: string): SourceStats;
  /** Starts the interval timers and folder watches (`start` does, unless `schedule: false`). Idempotent. */
  beginSchedule(): void;
  /** Stops them (a reconcile in progress finishes; requests are still answered). Idempotent. */
  endSchedule(): Promise<void>;
}

interface Loop {
  config: SourceConfig;
  configHash: string;
  memory: SourceMemory;
  stats: SourceStats;
  source?: DefinitionSource;
  secretValues: string[];
  timer?: NodeJS.Timeout;
  running?: Promise<ReconcileResult>;
  queued?: Promise<ReconcileResult>;
  failures: number;
  stopWatch?: () => Promise<void>;
}

export function createReconciler(deps: ReconcilerDeps): ProcessReconciler {
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;
  const schedule = deps.schedule ?? true;
  /** Timers and watches are on (the reconciler role's leader). */
  let scheduling = false;
  const abort = new AbortController();
  let closed = false;
  let closing: Promise<void> | undefined;
  const loops = new Map<string, Loop>(
    deps.sources.map((config) => [
      config.name,
      {
        config,
        configHash: sourceConfigHash(config),
        memory: { parsed: new Map() },
        stats: { reconciles: 0, filesParsed: 0, revisionsWritten: 0, definitionsInserted: 0 },
        secretValues: [],
        failures: 0,
      },
    ]),
  );

  function beginSchedule(): void {
    if (scheduling || closed) return;
    scheduling = true;
    for (const loop of loops.values()) {
      plan(loop, random() * 1000);
      if (loop.config.type === 'local') {
        try {
          loop.source ??= openSource(loop.config, deps.dataDir, deps.secrets, loop.secretValues, deps.gitLimits);
          loop.stopWatch = loop.source.watch?.(() => {
            request(loop).catch((error: unknown) => deps.logger.error({ source: loop.config.name, err: error }, 'reconcile after a change failed'));
          });
        } catch (error) {
          deps.logger.warn({ source: loop.config.name, err: error }, 'cannot watch the folder; it is still reconciled every interval');
        }
      }
    }
  }

  const loopOf = (name: string): Loop => {
    const loop = loops.get(name);
    if (!loop) throw new UnknownSourceError(name);
    return loop;
  };

  const plan = (loop: Loop, delayMs: number) => {
    if (closed || !scheduling) return;
    clearTimeout(loop.timer);
    loop.timer = setTimeout(() => {
      request(loop).catch((error: unknown) => deps.logger.error({ source: loop.config.name, err: error }, 'reconcile loop failed'));
    }, delayMs);
    loop.timer.unref();
  };

  const once = async (loop: Loop): Promise<ReconcileResult> => {
    const { config } = loop;
    const started = performance.now();
    const lock = await deps.database.tryWithLock(`eventops:reconcile:${config.name}`, async () => {
      const row = await loadSourceState(deps.database.db, config.name);
      if (!row) throw new UnknownSourceError(config.name);
      let source: DefinitionSource;
      try {
        source = loop.source ??= openSource(config, deps.dataDir, deps.secrets, loop.secretValues, deps.gitLimits);
      } catch (error) {
        // A missing secret: report it like a failed fetch (the summary step does the rest).
        source = failingSource(error);
      }
      return runReconcile(
        {
          config,
          ...(deps.yaml ? { yaml: deps.yaml } : {}),
          configHash: loop.configHash,
          db: deps.database.db,
          source,
          memory: loop.memory,
          stats: loop.stats,
          logger: deps.logger,
          signal: abort.signal,
          row,
          timings: {},
          now,
        },
        (text) => redact(text, loop.secretValues),
      );
    });
    if (!lock.acquired) {
      const row = await loadSourceState(deps.database.db, config.name);
      return { source: config.name, outcome: 'locked', conditions: row?.conditions ?? [], durationMs: Math.round(performance.now() - started) };
    }
    const { result, error } = lock.value;
    const log = { source: config.name, outcome: result.outcome, revision: result.revision, durationMs: result.durationMs };
    if (error) deps.logger.warn({ ...log, reason: error.reason, kind: error.kind }, error.message);
    else if (result.outcome === 'unchanged') deps.logger.debug(log, 'source unchanged');
    else deps.logger.info(log, result.conditions.find((c) => c.type === 'Ready')?.message ?? result.outcome);
    deps.onReconciled?.(result);
    if (error?.kind === 'transient') backoff(loop);
    else {
      loop.failures = 0;
      plan(loop, config.intervalMs * (1 + random() * 0.1));
    }
    return result;
  };

  const backoff = (loop: Loop) => {
    loop.failures++;
    const max = deps.retry?.maxMs ?? Math.min(loop.config.intervalMs, 300_000);
    const delay = Math.min(max, (deps.retry?.initialMs ?? 1000) * 2 ** (loop.failures - 1));
    plan(loop, delay * (0.9 + random() * 0.2));
  };

  /** Runs now, or once right after the reconcile in progress (all requests meanwhile share it). */
  const request = (loop: Loop): Promise<ReconcileResult> => {
    if (closed) return Promise.reject(new Error('the reconciler is closed'));
    if (loop.queued) return loop.queued;
    if (loop.running) {
      loop.queued = loop.running
        .catch(() => undefined)
        .then(() => {
          loop.queued = undefined;
          return start(loop);
        });
      return loop.queued;
    }
    return start(loop);
  };

  const start = (loop: Loop): Promise<ReconcileResult> => {
    clearTimeout(loop.timer);
    const running = once(loop)
      .catch((error: unknown) => {
        // The database itself failed (the lock, the status read): try again later.
        backoff(loop);
        throw error;
      })
      .finally(() => {
      if (loop.running === running) loop.running = undefined;
    });
    loop.running = running;
    return running;
  };

  return {
    sourceNames: [...loops.keys()],
    async start() {
      await registerSources(deps.database.db, deps.sources);
      if (schedule) beginSchedule();
    },
    beginSchedule,
    async endSchedule() {
      scheduling = false;
      for (const loop of loops.values()) {
        clearTimeout(loop.timer);
        const stopWatch = loop.stopWatch;
        loop.stopWatch = undefined;
        await stopWatch?.();
      }
    },
    requestReconcile: (name) => {
      try {
        return request(loopOf(name));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    stats: (name) => ({ ...loopOf(name).stats }),
    close() {
      closing ??= (async () => {
        closed = true;
        for (const loop of loops.values()) clearTimeout(loop.timer);
        const pending = [...loops.values()].flatMap((l) => [l.running, l.queued]).filter(Boolean);
        await Promise.allSettled(pending);
        abort.abort();
        for (const loop of loops.values()) {
          await loop.stopWatch?.();
          await loop.source?.close();
        }
      })();
      return closing;
    },
  };
}

function failingSource(error: unknown): DefinitionSource {
  const fail = async (): Promise<never> => {
    throw error instanceof SourceError ? error : new SourceError('stalling', 'SourceInvalid', String(error instanceof Error ? error.message : error), { cause: error });
  };
  return { resolve: fail, snapshot: fail, close: async () => undefined };
}
