// One trigger prepared for matching: what it listens to (event source, type, subject,
// command, schedule) and its filters compiled, plus the words that explain why an event is
// not for it. Built once when the set of active triggers changes.
import type { Trigger } from '../../schemas/index.js';
import { commandMismatch, type CommandCall } from './commands.js';
import { referencedPaths, templateExpressions, type PathTree } from './expression-context.js';
import { compileFilter, type CompiledFilter } from './filters.js';
import { scheduleTarget, type NormalizedEvent } from './normalized-event.js';
import { subjectMatches } from './subject-trie.js';

/** A trigger as the index is given it. */
export interface TriggerEntry {
  /** The definitions source (namespace) it belongs to; it starts pipelines of this source only. */
  source: string;
  /** The revision it was read from: runs it starts are pinned to it. */
  revision?: string;
  trigger: Trigger;
}

export interface CompiledTrigger {
  /** Position in the index, for a stable order of verdicts. */
  ordinal: number;
  entry: TriggerEntry;
  name: string;
  /** The event source it listens to; a `command` implies `github`. Undefined: any source. */
  eventSource?: string;
  type?: string;
  subject?: string;
  command?: string;
  /** A `schedule` trigger: only its own schedule ticks are for it. */
  scheduled: boolean;
  /** Cheap filters first. */
  filters: CompiledFilter[];
  operator: 'and' | 'or';
  /**
   * The first `match: exact` data filter, when every filter must hold: the index keys the
   * trigger by its values, so an event whose value is none of them never reaches the trigger.
   */
  keyFilter?: { path: string; values: readonly (string | number | boolean | null)[] };
  /** What the `${{ }}` of its inputs and dedupe read; undefined: everything. */
  renderReads?: Map<string, PathTree>;
}

export function compileTrigger(entry: TriggerEntry, ordinal: number): CompiledTrigger {
  const spec = entry.trigger.spec;
  const eventSource = spec.event?.source ?? (spec.command !== undefined ? 'github' : spec.schedule !== undefined ? 'schedule' : undefined);
  const filters = (spec.filters ?? []).map((f, i) => compileFilter(f, i));
  const compiled: CompiledTrigger = {
    ordinal,
    entry,
    name: entry.trigger.metadata.name,
    scheduled: spec.schedule !== undefined,
    filters: [...filters.filter((f) => f.cheap), ...filters.filter((f) => !f.cheap)],
    operator: spec.filtersOperator ?? 'and',
  };
  const key = compiled.operator === 'and' ? spec.filters?.find((f) => f.path !== undefined && f.value !== undefined && (f.match ?? 'exact') === 'exact') : undefined;
  if (key?.path !== undefined && key.value !== undefined) compiled.keyFilter = { path: key.path, values: Array.isArray(key.value) ? key.value : [key.value] };
  const templates = templateExpressions([spec.pipelines.map((p) => p.inputs ?? {}), spec.dedupe ?? '']);
  const reads = templates && referencedPaths(templates, 'trigger');
  if (reads) compiled.renderReads = reads;
  if (eventSource !== undefined) compiled.eventSource = eventSource;
  if (spec.event?.type !== undefined) compiled.type = spec.event.type;
  if (spec.event?.subject !== undefined) compiled.subject = spec.event.subject;
  if (spec.command !== undefined) compiled.command = spec.command;
  return compiled;
}

/**
 * `type: pull_request` is any action of that GitHub event, `type: pull_request.opened` one
 * action; a CloudEvents or API type (`deploy.requested`) is compared whole.
 */
export function typeMatches(type: string, event: NormalizedEvent): boolean {
  return type === event.type || (event.action !== undefined && type === `${event.type}.${event.action}`);
}

/** Why `event` is not for `trigger` before any filter runs; undefined when it is a candidate. */
export function whyNotCandidate(trigger: CompiledTrigger, event: NormalizedEvent, calls: readonly CommandCall[]): string | undefined {
  if (trigger.scheduled || event.source === 'schedule') {
    const target = scheduleTarget(event);
    if (trigger.scheduled && target?.source === trigger.entry.source && target.trigger === trigger.name) return undefined;
    if (trigger.scheduled) return `fires on its schedule (${trigger.entry.trigger.spec.schedule ?? ''}) only; this event is not one of its ticks`;
    return target ? `the event is a schedule tick of trigger ${target.trigger} of source ${target.source}` : 'the event is a schedule tick that names no trigger (labels `source` and `trigger`)';
  }
  if (trigger.eventSource !== undefined && trigger.eventSource !== event.source) {
    return `listens to source ${trigger.eventSource}; the event's source is ${event.source}`;
  }
  if (trigger.command !== undefined) {
    const mismatch = commandMismatch(trigger.command, event, calls);
    if (mismatch) return mismatch;
  }
  if (trigger.type !== undefined && !typeMatches(trigger.type, event)) {
    return `listens to type ${trigger.type}; the event's type is ${event.type}${event.action !== undefined ? ` (action ${event.action})` : ''}`;
  }
  if (trigger.subject !== undefined) {
    if (event.subject === undefined) return `listens to subject ${trigger.subject}; the event has no subject`;
    if (!subjectMatches(trigger.subject, event.subject)) return `listens to subject ${trigger.subject}; the event's subject is ${event.subject}`;
  }
  return undefined;
}
