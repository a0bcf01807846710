// The handler of `match-event` jobs: matches one stored event against the active triggers,
// creates a pending run per matched trigger and pipeline (pinned to the trigger's revision) and
// records every verdict on the event — all in one transaction, and only while the event is still
// `received`, so an event is matched once however often its job runs.
import { randomUUID } from 'node:crypto';
import { and, eq, gt, isNull, sql, TransactionRollbackError } from 'drizzle-orm';
import { events, runs, type Db, type EventRow } from '../../schemas/database/index.js';
import { commandsOf, createEvent, matchEvent, type NormalizedEvent, type PlannedRun, type TriggerVerdict } from '../matching/index.js';
import type { ActiveTriggersCache } from './active-triggers.js';

export interface MatchDeps {
  db: Db;
  triggers: ActiveTriggersCache;
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
  const result = matchEvent(index, toNormalizedEvent(row), lookupPipeline);
  const verdicts: StoredVerdict[] = result.verdicts.map((v) => ({ ...v }));
  const verdictOf = (run: PlannedRun) => verdicts.find((v) => v.source === run.source && v.trigger === run.trigger) as StoredVerdict;
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
    for (const key of dedupeKeys) await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
    const runIds: string[] = [];
    const position = new Map<string, number>();
    for (const run of result.runs) {
      const key = `${run.source}/${run.trigger}`;
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
      if (run.dedupeKey !== undefined && (await seenKey(tx as unknown as Db, run))) {
        verdict.verdict = 'deduplicated';
        verdict.reason = `a run for dedupe key ${JSON.stringify(run.dedupeKey)} was already started${run.dedupeWindowMs ? ` within ${run.dedupeWindowMs / 1000}s` : ''}; no run started`;
        continue;
      }
      const id = randomUUID();
      const [inserted] = await tx
        .insert(runs)
        .values({ id, source: run.source, trigger: run.trigger, pipeline: run.pipeline, pipelineIndex, revisionId: Number(run.revision), eventId, inputs: run.inputs, dedupeKey: run.dedupeKey ?? null })
        .onConflictDoNothing()
        .returning({ id: runs.id });
      if (inserted) {
        runIds.push(inserted.id);
        (verdict.runs ??= []).push(inserted.id);
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
    const updated = await tx
      .update(events)
      .set({ status, verdicts, matchedAt: sql`now()` })
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

/** Whether a run with this trigger's dedupe key exists (within the window, when it has one). */
async function seenKey(db: Db, run: PlannedRun): Promise<boolean> {
  const conditions = [eq(runs.source, run.source), eq(runs.trigger, run.trigger), eq(runs.dedupeKey, run.dedupeKey as string)];
  if (run.dedupeWindowMs !== undefined) conditions.push(gt(runs.createdAt, sql`now() - make_interval(secs => ${run.dedupeWindowMs / 1000})`));
  const [hit] = await db.select({ id: runs.id }).from(runs).where(and(...conditions)).limit(1);
  return hit !== undefined;
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
