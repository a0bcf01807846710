// The handler of `match-event` jobs: matches one stored event against the active triggers,
// creates a pending run per matched trigger and pipeline (pinned to the trigger's revision) and
// records every verdict on the event — all in one transaction, and only while the event is still
// `received`, so an event is matched once however often its job runs. Matching yields to the
// event loop between slices of work and the runs are written in batches: one event that 10,000
// triggers matched froze the API for a minute when matched in one go and inserted row by row.
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { and, eq, isNull, sql, TransactionRollbackError } from 'drizzle-orm';
import { DEFAULT_LIMITS, type Limits } from '../../config/index.js';
import { events, runs, type Db, type EventRow } from '../../schemas/database/index.js';
import { commandsOf, createEvent, matchEventYielding, type NormalizedEvent, type PlannedRun, type TriggerVerdict } from '../matching/index.js';
import type { ActiveTriggersCache } from './active-triggers.js';

// Rows per INSERT (sent as one JSON parameter: drizzle took 0.2-0.7 s of event loop to build one
// 500-row INSERT) and items per slice of synchronous work between yields to the event loop.
const INSERT_BATCH = 1000;
const SLICE = 1000;

export interface MatchDeps {
  db: Db;
  triggers: ActiveTriggersCache;
  /** limits.matching: the cost budget of filter expressions and the matching time per event; DEFAULT_LIMITS when absent. */
  limits?: Limits['matching'];
  /**
   * Whether the author of the comment in `event` has repository permission `need` (looked up on
   * GitHub): undefined when they do, else why not. Absent (GitHub's API not configured): commands
   * that need a permission start nothing.
   */
  checkPermission?(event: EventRow, need: string): Promise<string | undefined>;
}

/** A verdict as stored on the event: the matcher's, or what the run step found. */
export type StoredVerdict = Omit<TriggerVerdict, 'verdict'> & {
  verdict: TriggerVerdict['verdict'] | 'deduplicated' | 'permission-unchecked' | 'refused';
  runs?: string[];
};

export interface MatchOutcome {
  status: 'matched' | 'unmatched';
  /** The event's source (`github`, `api`, a receiver's name…). */
  source: string;
  runIds: string[];
  /** The event is a new GitHub comment with slash-commands (built-in or of triggers). */
  commands: boolean;
}

/** Undefined when the event was matched before (nothing is done twice). */
export async function matchStoredEvent(deps: MatchDeps, eventId: string): Promise<MatchOutcome | undefined> {
  const [row] = await deps.db.select().from(events).where(eq(events.id, eventId));
  if (!row) throw new Error(`event ${eventId} does not exist`);
  if (row.status !== 'received') return undefined;
  const { index, lookupPipeline } = await deps.triggers.get();
  const result = await matchEventYielding(index, toNormalizedEvent(row), lookupPipeline, { limits: deps.limits ?? DEFAULT_LIMITS.matching });
  const verdicts: StoredVerdict[] = result.verdicts.map((v) => ({ ...v }));
  const byTrigger = new Map(verdicts.map((v) => [triggerKey(v), v]));
  const verdictOf = (run: PlannedRun) => byTrigger.get(triggerKey(run)) as StoredVerdict;
  // Looked up before the transaction (a call to GitHub), once per permission needed.
  const refusals = new Map<string, string | undefined>();
  if (deps.checkPermission) {
    for (const need of new Set(result.runs.flatMap((r) => (r.requiredPermission ? [r.requiredPermission] : [])))) refusals.set(need, await deps.checkPermission(row, need));
  }

  return deps.db.transaction(async (tx) => {
    // Two events with one dedupe key matched at once by two workers: each takes the key's lock
    // (in one order, so no deadlock) before looking for an earlier run, so the second sees the
    // first's run once the first commits.
    const dedupeKeys = [...new Set(result.runs.filter((r) => r.dedupeKey !== undefined).map((r) => JSON.stringify([r.source, r.trigger, r.dedupeKey])))].sort();
    if (dedupeKeys.length > 0) await tx.execute(sql`select count(pg_advisory_xact_lock(hashtextextended(k, 0))) from jsonb_array_elements_text(${JSON.stringify(dedupeKeys)}::jsonb) as k`);
    const seen = await seenKeys(tx as unknown as Db, result.runs);
    // Two runs of one trigger with one key in this event: the second is a duplicate of the first, as if inserted one by one.
    const startedKeys = new Set<string>();
    const runIds: string[] = [];
    const position = new Map<string, number>();
    const rows: RunRow[] = [];
    const verdictOfRow = new Map<string, StoredVerdict>();
    for (const [i, run] of result.runs.entries()) {
      if (i % SLICE === SLICE - 1) await yieldToLoop();
      const key = triggerKey(run);
      const pipelineIndex = position.get(key) ?? 0;
      position.set(key, pipelineIndex + 1);
      const verdict = verdictOf(run);
      if (run.requiredPermission) {
        if (!refusals.has(run.requiredPermission)) {
          // Without GitHub's API the commenter's permission cannot be looked up: refusing is the only safe answer.
          verdict.verdict = 'permission-unchecked';
          verdict.reason = `the command needs ${run.requiredPermission} permission, which cannot be checked: GitHub's API is not configured (github.appId and github.privateKey, or github.token); no run started`;
          continue;
        }
        const refused = refusals.get(run.requiredPermission);
        if (refused !== undefined) {
          verdict.verdict = 'refused';
          verdict.reason = `${refused}; no run started`;
          continue;
        }
      }
      if (run.dedupeKey !== undefined) {
        const dedupe = JSON.stringify([run.source, run.trigger, run.dedupeKey]);
        if (seen.has(i) || startedKeys.has(dedupe)) {
          verdict.verdict = 'deduplicated';
          verdict.reason = `a run for dedupe key ${JSON.stringify(run.dedupeKey)} was already started${run.dedupeWindowMs ? ` within ${run.dedupeWindowMs / 1000}s` : ''}; no run started`;
          continue;
        }
        startedKeys.add(dedupe);
      }
      const id = randomUUID();
      rows.push({ id, source: run.source, trigger: run.trigger, pipeline: run.pipeline, pipeline_index: pipelineIndex, revision_id: Number(run.revision), event_id: eventId, inputs: run.inputs, dedupe_key: run.dedupeKey ?? null });
      verdictOfRow.set(id, verdict);
    }
    for (let at = 0; at < rows.length; at += INSERT_BATCH) {
      const batch = rows.slice(at, at + INSERT_BATCH);
      const inserted = new Set(rowsOf<{ id: string }>(await tx.execute(sql`
        insert into ${runs} (id, source, trigger, pipeline, pipeline_index, revision_id, event_id, inputs, dedupe_key)
        select id, source, trigger, pipeline, pipeline_index, revision_id, event_id, inputs, dedupe_key
        from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)
          as r(id text, source text, trigger text, pipeline text, pipeline_index int, revision_id bigint, event_id text, inputs jsonb, dedupe_key text)
        on conflict do nothing
        returning id`)).map((r) => r.id));
      for (const { id } of batch) {
        if (!inserted.has(id)) continue;
        runIds.push(id);
        const verdict = verdictOfRow.get(id) as StoredVerdict;
        (verdict.runs ??= []).push(id);
      }
    }
    // A "Re-run" clicked on one of eventops' check runs: the same pipeline, trigger, inputs and
    // revision, started by this event (so the new run gets a check run of its own).
    const rerun = rerunRequested(row);
    if (rerun !== undefined) {
      const [earlier] = await tx.select().from(runs).where(and(eq(runs.id, rerun), isNull(runs.parentRunId)));
      if (earlier) {
        const id = randomUUID();
        const [inserted] = await tx
          .insert(runs)
          .values({ id, source: earlier.source, trigger: earlier.trigger, pipeline: earlier.pipeline, pipelineIndex: earlier.pipelineIndex, revisionId: earlier.revisionId, eventId, inputs: earlier.inputs })
          .onConflictDoNothing()
          .returning({ id: runs.id });
        if (inserted) {
          runIds.push(inserted.id);
          verdicts.push({ source: earlier.source, trigger: earlier.trigger, verdict: 'matched', reason: `a re-run of run ${earlier.id} (pipeline ${earlier.pipeline}), asked for on its GitHub check run`, runs: [inserted.id] });
        }
      }
    }
    const status: MatchOutcome['status'] = verdicts.some((v) => v.verdict === 'matched' || v.verdict === 'deduplicated') ? 'matched' : 'unmatched';
    const verdictsJson = await jsonInSlices(verdicts);
    const updated = await tx
      .update(events)
      .set({ status, verdicts: sql`${verdictsJson}::jsonb`, matchedAt: sql`now()` })
      .where(and(eq(events.id, eventId), eq(events.status, 'received')))
      .returning({ id: events.id });
    // Another worker matched it meanwhile: its runs stand, ours roll back.
    if (updated.length === 0) tx.rollback();
    return { status, source: row.source, runIds, commands: commandsOf(toNormalizedEvent(row)).length > 0 };
  }).catch((error: unknown) => {
    if (error instanceof TransactionRollbackError) return undefined;
    throw error;
  });
}

/**
 * The positions in `planned` of the runs whose trigger already started a run with their dedupe
 * key (within the window, when it has one): one query for all of them.
 */
async function seenKeys(db: Db, planned: readonly PlannedRun[]): Promise<Set<number>> {
  const keyed = planned.flatMap((run, i) => (run.dedupeKey === undefined ? [] : [{ run, i }]));
  if (keyed.length === 0) return new Set();
  const result = await db.execute(sql`
    select k.i
    from jsonb_to_recordset(${JSON.stringify(keyed.map(({ run, i }) => ({ i, source: run.source, trigger: run.trigger, key: run.dedupeKey, secs: run.dedupeWindowMs === undefined ? null : run.dedupeWindowMs / 1000 })))}::jsonb)
      as k(i int, source text, trigger text, key text, secs float8)
    where exists (
      select 1 from ${runs} r
      where r.source = k.source and r.trigger = k.trigger and r.dedupe_key = k.key
        and (k.secs is null or r.created_at > now() - make_interval(secs => k.secs)))`);
  return new Set(rowsOf<{ i: number }>(result).map((r) => Number(r.i)));
}

/** A run as inserted, in the columns' names. */
interface RunRow {
  id: string;
  source: string;
  trigger: string;
  pipeline: string;
  pipeline_index: number;
  revision_id: number;
  event_id: string;
  inputs: Record<string, unknown>;
  dedupe_key: string | null;
}

/** node-postgres's result of `execute`: the rows of the query. */
function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** `JSON.stringify(items)`, made in slices with the event loop let run between them (10,000 verdicts are megabytes). */
async function jsonInSlices(items: readonly unknown[]): Promise<string> {
  const parts: string[] = [];
  for (let at = 0; at < items.length; at += SLICE) {
    if (at > 0) await yieldToLoop();
    parts.push(items.slice(at, at + SLICE).map((item) => JSON.stringify(item)).join(','));
  }
  return `[${parts.join(',')}]`;
}

function triggerKey(v: { source: string; trigger: string }): string {
  return `${v.source}\u0000${v.trigger}`;
}

/** The event as matching sees it: the sender's delivery id is its id when there is one. */
export function toNormalizedEvent(row: EventRow): NormalizedEvent {
  return createEvent({
    id: row.deliveryId ?? row.id,
    source: row.source,
    type: row.type,
    ...(row.action !== null ? { action: row.action } : {}),
    ...(row.subject !== null ? { subject: row.subject } : {}),
    headers: row.headers,
    labels: row.labels,
    body: row.body,
    receivedAt: row.receivedAt,
  });
}

/** The run whose check run (`eventops/<pipeline>`, its external id the run's id) a `check_run.rerequested` event asks to run again. */
export function rerunRequested(row: Pick<EventRow, 'source' | 'type' | 'action' | 'body'>): string | undefined {
  if (row.source !== 'github' || row.type !== 'check_run' || row.action !== 'rerequested') return undefined;
  const checkRun = (row.body as { check_run?: { name?: unknown; external_id?: unknown } } | null)?.check_run;
  if (typeof checkRun?.name !== 'string' || !checkRun.name.startsWith('eventops/')) return undefined;
  return typeof checkRun.external_id === 'string' && checkRun.external_id !== '' ? checkRun.external_id : undefined;
}
