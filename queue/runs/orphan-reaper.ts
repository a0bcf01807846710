// After a server was killed, its tasks' work may still run: a container, a remote process group.
// The run sweeper fails (or retries) those attempts once their lease runs out; the reaper stops
// the work itself. At start and then every `intervalMs`, it asks the runner of each active
// actuator whose work can outlive the server (docker, ssh, agent) to stop what no live attempt owns
// (runners/runner.ts `reap`, with queue/runs/attempt-ownership.ts); runners also do so before
// each attempt, so a retry never runs beside its orphan.
import { and, eq, isNull } from 'drizzle-orm';
import type { Logger } from 'pino';
import { definitions, type Db } from '../../schemas/database/index.js';
import type { Actuator } from '../../schemas/index.js';
import type { ActuatorRunners } from './actuator-runners.js';
import { actuatorType, type ActuatorChoice } from './pick-actuator.js';

export interface OrphanReaperDeps {
  db: Db;
  runners: ActuatorRunners;
  logger: Logger;
  /** Default 30 s. */
  intervalMs?: number;
}

const REAPED_TYPES = new Set(['docker', 'ssh', 'agent']);

/** Starts reaping at once; `close()` stops it (waiting at most 2 s for a look under way). */
export function startOrphanReaper(deps: OrphanReaperDeps): { close(): Promise<void> } {
  let closed = false;
  let looking: Promise<void> | undefined;
  const look = async () => {
    const rows = await deps.db
      .select({ source: definitions.source, metadata: definitions.metadata, spec: definitions.spec })
      .from(definitions)
      .where(and(eq(definitions.kind, 'Actuator'), isNull(definitions.removedRevisionId)));
    const choices: ActuatorChoice[] = rows
      .map((row) => ({ source: row.source, actuator: { apiVersion: 'eventops.dev/v1', kind: 'Actuator', metadata: row.metadata, spec: row.spec } as Actuator }))
      .filter(({ actuator }) => REAPED_TYPES.has(actuatorType(actuator) ?? ''))
      .map(({ source, actuator }) => ({ key: `${source}/${actuator.metadata.name}`, source, actuator, concurrency: actuator.spec.concurrency ?? Number.POSITIVE_INFINITY }));
    await Promise.all(
      choices.map(async (choice) => {
        if (closed) return;
        try {
          const stopped = await deps.runners.use(choice, async (runner) => (runner.reap ? runner.reap() : []));
          if (stopped.length > 0) deps.logger.warn({ actuator: choice.key, stopped }, 'stopped orphaned attempts left by a previous server');
        } catch (error) {
          deps.logger.info({ err: error, actuator: choice.key }, 'could not look for orphaned attempts');
        }
      }),
    );
  };
  const tick = () => {
    if (closed || looking) return;
    looking = look()
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'looking for orphaned attempts failed'))
      .finally(() => (looking = undefined));
  };
  tick();
  const timer = setInterval(tick, deps.intervalMs ?? 30_000);
  timer.unref();
  return {
    // A look held by a host that does not answer is cut by the runners' close, which follows.
    async close() {
      closed = true;
      clearInterval(timer);
      await Promise.race([looking, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    },
  };
}
