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
  /** Bounds (limits.matching); absent: unbounded. */
  limits?: MatchLimits;
  /** The clock of the time bound, in ms; performance.now by default. */
  now?: () => number;
}

/** limits.matching of the configuration. */
export interface MatchLimits {
  /** Comprehension steps one filter expression may take; beyond, the filter does not hold. */
  expressionCost: number;
  /** Matching work on one event, in ms; triggers not reached by then are `filtered`. */
  eventTimeMs: number;
}

export interface YieldingOptions extends MatchOptions {
  /** Work this long (ms) at most before letting the event loop run; 10 by default. */
  sliceMs?: number;
  /** How to let the event loop run; `setImmediate` by default. */
  pause?: () => Promise<void>;
}

/** Matches `event` in one go: for tools that match one event for an author (`eventops test-event`). */
export function matchEvent(index: TriggerIndex, event: NormalizedEvent, lookupPipeline: PipelineLookup, options: MatchOptions = {}): MatchResult {
  const clock = workClock(options.now);
  const steps = matching(index, event, lookupPipeline, options, clock);
  for (let next = steps.next(); ; next = steps.next()) if (next.done) return next.value;
}

/**
 * Matches `event` as the server does: the work is cut into slices of `sliceMs` with the event
 * loop let run between them (10,000 triggers froze the API for 30 s when matched in one go),
 * and only the working time counts towards limits.matching.eventTime.
 */
export async function matchEventYielding(index: TriggerIndex, event: NormalizedEvent, lookupPipeline: PipelineLookup, options: YieldingOptions = {}): Promise<MatchResult> {
  const clock = workClock(options.now);
  const sliceMs = options.sliceMs ?? 10;
  const pause = options.pause ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  const steps = matching(index, event, lookupPipeline, options, clock);
  let sliceStart = clock.now();
  for (let next = steps.next(); ; next = steps.next()) {
    if (next.done) return next.value;
    if (clock.now() - sliceStart < sliceMs) continue;
    const paused = clock.now();
    await pause();
    clock.pausedMs += clock.now() - paused;
    sliceStart = clock.now();
  }
}

interface WorkClock {
  now: () => number;
  started: number;
  /** Time spent waiting for the event loop: not work. */
  pausedMs: number;
}

function workClock(now: (() => number) | undefined): WorkClock {
  const clock = now ?? (() => performance.now());
  return { now: clock, started: clock(), pausedMs: 0 };
}

/** The matching itself: yields after each trigger, so that a caller may pause between them. */
function* matching(index: TriggerIndex, event: NormalizedEvent, lookupPipeline: PipelineLookup, options: MatchOptions, clock: WorkClock): Generator<void, MatchResult> {
  const { candidates, commands } = index.candidates(event);
  const view = eventView(event);
  let filterContext: Record<string, unknown> | undefined;
  const limits = options.limits;
  const spent = () => clock.now() - clock.started - clock.pausedMs;
  const input: FilterInput = {
    event,
    expressionContext: () =>
      (filterContext ??= { event: view, body: event.body, headers: event.headers, labels: event.labels, subject: event.subject ?? null }),
    evaluated: new Map(),
    ...(limits ? { budget: () => ({ maxCost: limits.expressionCost, eventTimeMs: limits.eventTimeMs, deadline: clock.now() + limits.eventTimeMs - spent(), now: clock.now }) } : {}),
  };
  // Past the time bound, the triggers not reached yet are filtered, saying why.
  const late = (trigger: CompiledTrigger): TriggerVerdict | undefined =>
    limits && spent() > limits.eventTimeMs
      ? verdictOf(trigger, 'filtered', `not reached: matching this event took over ${limits.eventTimeMs} ms (limits.matching.eventTime)`)
      : undefined;
  const rendered = new Map<string, unknown>();
  const verdicts: TriggerVerdict[] = [];
  const runs: PlannedRun[] = [];
  const judged = new Map<CompiledTrigger, TriggerVerdict>();
  for (const trigger of candidates) {
    const verdict = late(trigger) ?? judge(trigger, input, view, rendered, commands, lookupPipeline, runs);
    if (options.explain) judged.set(trigger, verdict);
    else verdicts.push(verdict);
    yield;
  }
  if (options.explain) {
    // Runs of this pass are discarded: the index already found every trigger that fires.
    const scratch: PlannedRun[] = [];
    for (const trigger of index.triggers) {
      const why = judged.has(trigger) ? undefined : index.whyNot(trigger, event, commands);
      // No reason before filters: the index set it aside by its key filter, which says why.
      verdicts.push(judged.get(trigger) ?? (why ? verdictOf(trigger, 'not-candidate', why) : (late(trigger) ?? judge(trigger, input, view, rendered, commands, lookupPipeline, scratch))));
      yield;
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
