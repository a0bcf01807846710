// Where agents are connected, as every process can see it: the process holding an agent's
// WebSocket records it in the `agents` table and renews `last_seen_at` while it holds it. A row
// whose process died stops being renewed and counts as disconnected after `staleAfterMs`. The
// task worker reads it to say, in a queued agent task's log, that no agent of its actuator is
// connected (rather than leaving the task silently queued until the run's timeout).
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { agents, type AgentRow, type Db } from '../../schemas/database/index.js';

/** What the presence needs of the agent hub (runners/agent-hub.ts). */
export interface PresenceHub {
  agents(): string[];
  onConnect(listener: (id: string, hello: { version: string; runs: readonly string[] }) => void): void;
  onDisconnect(listener: (id: string) => void): void;
}

export interface AgentPresenceDeps {
  db: Db;
  hub: PresenceHub;
  workerId: string;
  logger: Logger;
  /** How often held connections are renewed; default 10 s. */
  intervalMs?: number;
}

export interface AgentPresence {
  close(): Promise<void>;
}

/** Renews are this many intervals apart at most before a row counts as stale. */
export const PRESENCE_STALE_INTERVALS = 3;
export const PRESENCE_INTERVAL_MS = 10_000;

/** Keeps this process's agent connections recorded until `close()`, which records them ended. */
export function startAgentPresence(deps: AgentPresenceDeps): AgentPresence {
  const { db, workerId, logger } = deps;
  const pending = new Set<Promise<unknown>>();
  const track = (what: string, work: Promise<unknown>) => {
    const p = work.catch((error: unknown) => logger.warn({ err: error }, `agent presence: ${what} not recorded`)).finally(() => pending.delete(p));
    pending.add(p);
  };
  deps.hub.onConnect((id, hello) => {
    const row = { id, worker: workerId, version: hello.version, runs: [...hello.runs], connectedAt: sql`now()`, lastSeenAt: sql`now()`, disconnectedAt: null };
    track('a connection', db.insert(agents).values(row).onConflictDoUpdate({ target: agents.id, set: { worker: workerId, version: hello.version, runs: [...hello.runs], connectedAt: sql`now()`, lastSeenAt: sql`now()`, disconnectedAt: null } }));
  });
  // Only the holder's own row: a newer connection elsewhere may have taken it over.
  const ended = (ids: string[]) =>
    db
      .update(agents)
      .set({ disconnectedAt: sql`now()`, lastSeenAt: sql`now()` })
      .where(and(inArray(agents.id, ids), eq(agents.worker, workerId), sql`${agents.disconnectedAt} is null`));
  deps.hub.onDisconnect((id) => track('a disconnection', ended([id])));
  const timer = setInterval(() => {
    const held = deps.hub.agents();
    if (held.length === 0) return;
    track('a renewal', db.update(agents).set({ lastSeenAt: sql`now()` }).where(and(inArray(agents.id, held), eq(agents.worker, workerId))));
  }, deps.intervalMs ?? PRESENCE_INTERVAL_MS);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      const held = deps.hub.agents();
      if (held.length > 0) track('the end of connections', ended(held));
      await Promise.all(pending);
    },
  };
}

export interface AgentState {
  id: string;
  /** Connected to some eventops process now (its row renewed recently and not ended). */
  connected: boolean;
  worker: string | null;
  version: string | null;
  runs: string[];
  connectedAt: Date | null;
  lastSeenAt: Date | null;
  disconnectedAt: Date | null;
}

/** The state of agents `ids` (every agent that ever connected when absent); unknown ids come back never connected. Freshness is judged by the database's clock, which wrote `last_seen_at`. */
export async function agentStates(db: Db, ids?: readonly string[], intervalMs = PRESENCE_INTERVAL_MS): Promise<AgentState[]> {
  if (ids !== undefined && ids.length === 0) return [];
  const staleMs = PRESENCE_STALE_INTERVALS * intervalMs;
  const rows = await db
    .select({ row: agents, fresh: sql<boolean>`${agents.lastSeenAt} > now() - ${staleMs}::double precision * interval '1 millisecond'` })
    .from(agents)
    .where(ids === undefined ? undefined : inArray(agents.id, [...ids]))
    .orderBy(agents.id);
  const byId = new Map(rows.map((r) => [r.row.id, r]));
  const wanted = ids ?? rows.map((r) => r.row.id);
  return wanted.map((id) => {
    const found = byId.get(id);
    if (!found) return { id, connected: false, worker: null, version: null, runs: [], connectedAt: null, lastSeenAt: null, disconnectedAt: null };
    const row: AgentRow = found.row;
    return { id, connected: row.disconnectedAt === null && found.fresh === true, worker: row.worker, version: row.version, runs: row.runs, connectedAt: row.connectedAt, lastSeenAt: row.lastSeenAt, disconnectedAt: row.disconnectedAt };
  });
}
