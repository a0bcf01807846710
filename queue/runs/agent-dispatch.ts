// Agent tasks are pulled by the process an agent is connected to. The `run-task` job of an agent
// task is worked by any process; unless the agent is connected there, it leaves the task queued
// (task-worker.ts). Each process that holds agent connections looks for queued agent tasks — at
// once when an agent connects or a job passes one by, else every `intervalMs` — and runs each
// through the same task worker, which claims it only for an agent connected here. The claim is
// the usual compare-and-set, so two processes never run the same attempt.
import { and, asc, eq, isNull, lte, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { taskRuns, type Db } from '../../schemas/database/index.js';
import type { JobContext } from '../jobs/index.js';

export interface AgentDispatchDeps {
  db: Db;
  /** The task worker (createTaskWorker). */
  runTask(payload: { runId: string; task: string; attempt: number }, ctx: JobContext): Promise<void>;
  /** Whether any agent is connected to this process now. */
  anyAgentHere(): boolean;
  logger: Logger;
  /** Default 1 s. */
  intervalMs?: number;
  /** Tasks this process runs for agents at once; default 64. */
  maxInFlight?: number;
}

export interface AgentDispatch {
  /** Look now (an agent connected). */
  poke(): void;
  close(): Promise<void>;
}

export function startAgentDispatch(deps: AgentDispatchDeps): AgentDispatch {
  const intervalMs = deps.intervalMs ?? 1_000;
  const maxInFlight = deps.maxInFlight ?? 64;
  const inFlight = new Map<string, Promise<void>>();
  const abort = new AbortController();
  let looking: Promise<void> | undefined;
  let again = false;

  const look = async () => {
    if (!deps.anyAgentHere() || abort.signal.aborted) return;
    const room = maxInFlight - inFlight.size;
    if (room <= 0) return;
    const queued = await deps.db
      .select({ runId: taskRuns.runId, task: taskRuns.name, attempt: taskRuns.attempt })
      .from(taskRuns)
      .where(and(eq(taskRuns.status, 'queued'), eq(taskRuns.type, 'agent'), or(isNull(taskRuns.notBefore), lte(taskRuns.notBefore, sql`now()`))))
      .orderBy(asc(taskRuns.updatedAt))
      .limit(room + inFlight.size);
    for (const row of queued) {
      const key = `${row.runId}/${row.task}/${row.attempt}`;
      if (inFlight.has(key) || inFlight.size >= maxInFlight) continue;
      const running = deps
        .runTask(row, { attempt: 1, signal: abort.signal })
        .catch((error: unknown) => deps.logger.warn({ err: error, runId: row.runId, task: row.task }, 'agent task not run'))
        .finally(() => inFlight.delete(key));
      inFlight.set(key, running);
    }
  };
  const poke = () => {
    if (looking) {
      again = true;
      return;
    }
    looking = look()
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'looking for agent tasks failed'))
      .finally(() => {
        looking = undefined;
        if (again) {
          again = false;
          poke();
        }
      });
  };
  const timer = setInterval(poke, intervalMs);
  timer.unref();
  return {
    poke,
    async close() {
      clearInterval(timer);
      abort.abort();
      await looking;
      await Promise.all(inFlight.values());
    },
  };
}
