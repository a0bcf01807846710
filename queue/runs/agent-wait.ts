// A queued agent task whose agents are connected nowhere says so in its log, once per attempt:
// without this line it would sit `queued` with an empty log until the run's timeout, and the
// person looking would not know that an `eventops agent` is what is missing.
import { sql } from 'drizzle-orm';
import { logChunks, type Db } from '../../schemas/database/index.js';
import { agentStates, type AgentState } from './agent-presence.js';

/**
 * Writes the attempt's one waiting line when none of `agentIds` is connected to any process; does
 * nothing when one is (its process starts the task) or when the attempt has a log already.
 */
export async function noteAgentWait(db: Db, key: { runId: string; task: string; attempt: number }, agentIds: readonly string[]): Promise<void> {
  const states = await agentStates(db, agentIds);
  if (states.length === 0 || states.some((s) => s.connected)) return;
  const line = { at: Date.now(), stream: 'system', text: agentWaitText(states) };
  // A task that has not started has no log for this attempt: the first process to get here writes it.
  await db.execute(sql`
    insert into ${logChunks} (run_id, task, attempt, lines)
    select ${key.runId}, ${key.task}, ${key.attempt}, ${JSON.stringify([line])}::jsonb
    where not exists (select 1 from ${logChunks} where run_id = ${key.runId} and task = ${key.task} and attempt = ${key.attempt})`);
}

/** `waiting for an agent: edge-1 is not connected (never connected); …` */
export function agentWaitText(states: readonly AgentState[]): string {
  const seen = (s: AgentState) => (s.lastSeenAt === null ? 'never connected' : `last seen ${s.lastSeenAt.toISOString()}`);
  const who = states.length === 1 ? `${states[0]!.id} is not connected (${seen(states[0]!)})` : `none of ${states.map((s) => `${s.id} (${seen(s)})`).join(', ')} is connected`;
  const start = states.length === 1 ? `\`eventops agent --id ${states[0]!.id}\`` : '`eventops agent --id <id>` for one of them';
  return `waiting for an agent: ${who}; start ${start} on its host. The task starts when the agent connects, or ends with the run's timeout`;
}
