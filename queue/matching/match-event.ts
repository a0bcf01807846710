// Matches one event against the trigger index: candidates from the index, then each
// candidate's filters, then the inputs of each pipeline it starts and its dedupe key. The
// result says, per trigger, whether it matched and why not, and lists the runs to create.
// Pure: the caller looks pipelines up, checks command permissions, applies dedupe windows and
// creates the runs, pinned to the trigger's revision.
import { parseDuration, type Pipeline, type Trigger } from '../../schemas/index.js';
import type { CommandCall } from './commands.js';
import type { CompiledTrigger } from './compiled-trigger.js';
import { dedupeKey } from './dedupe.js';
import { project } from './expression-context.js';
import { evaluateFilters, type FilterInput, type FilterVerdict } from './filters.js';
import { eventView, type NormalizedEvent } from './normalized-event.js';
import { resolveInputs } from './resolve-inputs.js';
import type { TriggerIndex } from './trigger-index.js';

/**
 * `matched`: it starts its pipelines; `filtered`: a filter did not hold; `not-candidate`: it
 * does not listen to this event (source, type, subject, command, schedule); `inputs-failed`:
 * it matched but an input or its dedupe key could not be resolved, so it starts nothing.
 */
export type Verdict = 'matched' | 'filtered' | 'not-candidate' | 'inputs-failed';

export interface TriggerVerdict {
  /** The definitions source the trigger belongs to. */
  source: string;
  revision?: string;
  trigger: string;
  verdict: Verdict;
  reason: string;
  /** The filters evaluated, each with its outcome (for `filtered`, the last one is why). */
  filters?: FilterVerdict[];
  /** The slash-command of the comment, for command triggers. */
  command?: CommandCall;
}

export interface PlannedRun {
  source: string;
  /** The trigger's revision: the run uses the definitions of that revision. */
  revision?: string;
  trigger: string;
  pipeline: string;
  inputs: Record<string, unknown>;
  /** The rendered `dedupe` key; the caller starts nothing when it saw it within the window. */
  dedupeKey?: string;
  /** `dedupeWindow` in milliseconds; absent: the caller's default. */
  dedupeWindowMs?: number;
  /** The repository permission the commenter needs, for runs started by a slash-command. */
  requiredPermission?: NonNullable<Trigger['spec']['permission']>;
  command?: CommandCall;
}

export interface MatchResult {
  /**
   * One per candidate of the index (a trigger set aside by its key filter is not one), or with
   * `explain` one per trigger in the index.
   */
  verdicts: TriggerVerdict[];
  runs: PlannedRun[];
}

/** The pipeline `name` of `source` at `revision` (the trigger's). */
export type PipelineLookup = (source: string, name: string, revision: string | undefined) => Pipeline | undefined;

export interface MatchOptions {
  /**
   * Give every trigger of the index a verdict: `not-candidate` with its reason, or `filtered`
   * for one the index set aside by its key filter (costs a scan of all triggers).
   */
  explain?: boolean;
}

export function matchEvent(index: TriggerIndex, event: NormalizedEvent, lookupPipeline: PipelineLookup, options: MatchOptions = {}): MatchResult {
  const { candidates, commands } = index.candidates(event);
  const view = eventView(event);
  let filterContext: Record<string, unknown> | undefined;
  const input: FilterInput = {
    event,
    expressionContext: () =>
      (filterContext ??= { event: view, body: event.body, headers: event.headers, labels: event.labels, subject: event.subject ?? null }),
    evaluated: new Map(),
  };
  const rendered = new Map<string, unknown>();
  const verdicts: TriggerVerdict[] = [];
  const runs: PlannedRun[] = [];
  const judged = new Map<CompiledTrigger, TriggerVerdict>();
  for (const trigger of candidates) {
    const verdict = judge(trigger, input, view, rendered, commands, lookupPipeline, runs);
    if (options.explain) judged.set(trigger, verdict);
    else verdicts.push(verdict);
  }
  if (options.explain) {
    // Runs of this pass are discarded: the index already found every trigger that fires.
    const scratch: PlannedRun[] = [];
    for (const trigger of index.triggers) {
      const why = judged.has(trigger) ? undefined : index.whyNot(trigger, event, commands);
      // No reason before filters: the index set it aside by its key filter, which says why.
      verdicts.push(judged.get(trigger) ?? (why ? verdictOf(trigger, 'not-candidate', why) : judge(trigger, input, view, rendered, commands, lookupPipeline, scratch)));
    }
  }
  return { verdicts, runs };
}

function judge(
  trigger: CompiledTrigger,
  input: FilterInput,
  view: Record<string, unknown>,
  rendered: Map<string, unknown>,
  commands: readonly CommandCall[],
  lookupPipeline: PipelineLookup,
  runs: PlannedRun[],
): TriggerVerdict {
  const call = trigger.command !== undefined ? commands.find((c) => c.name === trigger.command) : undefined;
  const filters = evaluateFilters(trigger.filters, trigger.operator, input);
  if (!filters.holds) return verdictOf(trigger, 'filtered', filters.reason, filters.filters, call);

  const { source, revision } = trigger.entry;
  const spec = trigger.entry.trigger.spec;
  const context = project({ event: view, trigger: { name: trigger.name } }, trigger.renderReads);
  // Templates that read only the event render the same for every trigger: once per event.
  const shared = trigger.renderReads && !trigger.renderReads.has('trigger') ? rendered : undefined;
  const planned: PlannedRun[] = [];
  for (const p of spec.pipelines) {
    const pipeline = lookupPipeline(source, p.name, revision);
    if (!pipeline) return verdictOf(trigger, 'inputs-failed', `pipeline ${p.name}: source ${source} defines no such pipeline`, filters.filters, call);
    const resolved = resolveInputs(pipeline, p.inputs, context, shared);
    if (!resolved.ok) return verdictOf(trigger, 'inputs-failed', resolved.reason, filters.filters, call);
    const run: PlannedRun = { source, trigger: trigger.name, pipeline: p.name, inputs: resolved.inputs };
    if (revision !== undefined) run.revision = revision;
    if (call) {
      run.command = call;
      if (spec.permission !== undefined) run.requiredPermission = spec.permission;
    }
    planned.push(run);
  }
  if (spec.dedupe !== undefined) {
    const key = dedupeKey(spec.dedupe, context, shared);
    if (!key.ok) return verdictOf(trigger, 'inputs-failed', key.reason, filters.filters, call);
    const windowMs = spec.dedupeWindow === undefined ? undefined : parseDuration(spec.dedupeWindow);
    for (const run of planned) {
      run.dedupeKey = key.key;
      if (windowMs !== undefined) run.dedupeWindowMs = windowMs;
    }
  }
  runs.push(...planned);
  const why = call ? `command ${[call.name, ...call.args].join(' ')}; ${filters.reason}` : filters.reason;
  return verdictOf(trigger, 'matched', why, filters.filters, call);
}

function verdictOf(trigger: CompiledTrigger, verdict: Verdict, reason: string, filters?: FilterVerdict[], command?: CommandCall): TriggerVerdict {
  const out: TriggerVerdict = { source: trigger.entry.source, trigger: trigger.name, verdict, reason };
  if (trigger.entry.revision !== undefined) out.revision = trigger.entry.revision;
  if (filters && filters.length > 0) out.filters = filters;
  if (command) out.command = command;
  return out;
}
