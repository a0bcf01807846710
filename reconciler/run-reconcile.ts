// Runs the reconcile steps of one source and, whatever happens, summarises the outcome into
// conditions and history and saves them — only when they changed, so a reconcile that found
// nothing new writes nothing.
import { formatDiagnostic, type Diagnostic } from '../schemas/index.js';
import type { Condition, ReconcileAttempt } from '../schemas/database/index.js';
import { deriveReady, removeCondition, setCondition, shortRevision } from './conditions.js';
import { SourceError } from './errors.js';
import type { ReconcileContext } from './reconcile-context.js';
import { STEPS } from './reconcile-steps.js';
import type { ReconcileResult } from './reconciler.js';
import { saveStatus } from './store-revision.js';

/** Attempts kept in `sources.history`. */
export const HISTORY_LENGTH = 20;

export interface RunOutcome {
  result: ReconcileResult;
  /** The error that ended the reconcile, as a SourceError (kind decides retry). */
  error?: SourceError;
}

export async function runReconcile(ctx: ReconcileContext, redact: (text: string) => string): Promise<RunOutcome> {
  const started = performance.now();
  let error: SourceError | undefined;
  let status: { conditions: Condition[]; history: ReconcileAttempt[] } | undefined;
  try {
    for (const [name, step] of STEPS) {
      const t = performance.now();
      const next = await step(ctx);
      ctx.timings[name] = Math.round(performance.now() - t);
      if (next === 'stop') break;
    }
  } catch (thrown) {
    error = normalise(thrown, redact);
    ctx.outcome = 'failed';
  } finally {
    status = summarise(ctx, error, Math.round(performance.now() - started), ctx.now());
    if (!sameConditions(status.conditions, ctx.row.conditions) || status.history !== ctx.row.history) {
      await saveStatus(ctx.db, ctx.config.name, status);
    }
    ctx.stats.reconciles++;
  }
  const result: ReconcileResult = {
    source: ctx.config.name,
    outcome: ctx.outcome ?? 'failed',
    ...(ctx.revision ? { revision: ctx.revision } : {}),
    conditions: status.conditions,
    durationMs: Math.round(performance.now() - started),
  };
  return error ? { result, error } : { result };
}

/** Field by field: jsonb does not keep key order, so the stored JSON text differs. */
function sameConditions(a: readonly Condition[], b: readonly Condition[]): boolean {
  const fields = ['type', 'status', 'reason', 'message', 'lastTransitionTime'] as const;
  return a.length === b.length && a.every((c, i) => fields.every((f) => c[f] === b[i]?.[f]));
}

/** Longest message kept in status and history. */
const MAX_MESSAGE = 1000;

function normalise(thrown: unknown, redact: (text: string) => string): SourceError {
  if (thrown instanceof SourceError) return new SourceError(thrown.kind, thrown.reason, clip(redact(thrown.message)), { cause: thrown });
  // drizzle wraps a database error in "Failed query: <sql> params: <every value>": the values
  // (all definitions of a revision) do not belong in a status message; the database's own does.
  let error = thrown;
  while (error instanceof Error && error.message.startsWith('Failed query:') && error.cause instanceof Error) error = error.cause;
  const message = redact(error instanceof Error ? error.message : String(error));
  return new SourceError('transient', 'ReconcileError', clip(`reconcile failed: ${message}`), { cause: thrown });
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

function summarise(ctx: ReconcileContext, error: SourceError | undefined, durationMs: number, at: Date): { conditions: Condition[]; history: ReconcileAttempt[] } {
  let conditions: Condition[] = removeCondition(ctx.row.conditions, 'Reconciling');
  let attempt: ReconcileAttempt | undefined;
  const revision = ctx.revision ? { revision: ctx.revision } : {};
  const short = ctx.revision ? shortRevision(ctx.revision) : '';
  if (error) {
    // A failure before the files arrived is a fetch failure; a later one (the database, say)
    // leaves the source reconciling, to be retried (Flux's ProgressingWithRetry).
    if (ctx.snapshot === undefined) conditions = setCondition(conditions, 'FetchFailed', 'True', error.reason, error.message, at);
    else conditions = setCondition(removeCondition(conditions, 'FetchFailed'), 'Reconciling', 'True', 'ProgressingWithRetry', error.message, at);
    conditions = error.kind === 'stalling' ? setCondition(conditions, 'Stalled', 'True', error.reason, error.message, at) : removeCondition(conditions, 'Stalled');
    attempt = { at: at.toISOString(), ...revision, outcome: 'failed', reason: error.reason, message: error.message, durationMs };
  } else {
    conditions = removeCondition(removeCondition(conditions, 'FetchFailed'), 'Stalled');
    const result = ctx.validation;
    if (ctx.outcome === 'invalid' && result) {
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      const message = `revision ${short} has ${errors.length} error(s) in ${new Set(errors.map((d) => d.file)).size} file(s); first: ${formatDiagnostic(errors[0] as Diagnostic)}`;
      conditions = setCondition(conditions, 'ValidationFailed', 'True', 'ValidationFailed', message, at);
      attempt = { at: at.toISOString(), ...revision, outcome: 'invalid', reason: 'ValidationFailed', message, durationMs };
    } else if (ctx.outcome === 'applied' && result) {
      conditions = removeCondition(conditions, 'ValidationFailed');
      const applied = ctx.applied as NonNullable<ReconcileContext['applied']>;
      const message = `applied revision ${short}: ${result.definitions.length} definition(s) from ${ctx.files?.length ?? 0} file(s), ${applied.inserted} written, ${applied.closed} retired, ${result.warnings} warning(s)`;
      attempt = { at: at.toISOString(), ...revision, outcome: 'applied', reason: 'Succeeded', message, durationMs };
    }
  }
  const active = ctx.activeCommit ?? ctx.row.activeCommit ?? undefined;
  conditions = deriveReady(conditions, active, at);
  const history = attempt ? [attempt, ...ctx.row.history].slice(0, HISTORY_LENGTH) : ctx.row.history;
  return { conditions, history };
}
