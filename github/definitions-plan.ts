// The plan of a definitions change: what applying a new set of definitions would do to a
// source's active set — definitions added, changed (with a path-level diff of their v1 spec and
// metadata, e.g. `spec.tasks[build].commands`) and removed, and the triggers whose event,
// filters, command, schedule or pipelines change, said in words. Pure: the caller reads both sets.

/** One definition as stored (active) or as the reconciler would store it (new). */
export interface PlanDefinition {
  kind: string;
  name: string;
  /** Path in the repository. */
  file: string;
  line: number;
  metadata?: unknown;
  spec: unknown;
  /** The reconciler's content hash: equal hashes mean an unchanged definition (a fast path). */
  contentHash?: string;
}

export interface FieldChange {
  /** `spec.timeout`, `spec.tasks[build].commands`, `metadata.labels.team`, or `file` (moved). */
  path: string;
  change: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

export interface ChangedDefinition {
  before: PlanDefinition;
  after: PlanDefinition;
  fields: FieldChange[];
}

/** A trigger whose firing changes: what it listens to, how it filters, what it starts. */
export interface TriggerChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  /** Each a short phrase, e.g. `event.type push → pull_request`, `filters changed: …`. */
  words: string[];
}

export interface DefinitionsPlan {
  added: PlanDefinition[];
  changed: ChangedDefinition[];
  removed: PlanDefinition[];
  /** Definitions whose spec, metadata and file are the same (a moved line does not count). */
  unchanged: number;
  triggers: TriggerChange[];
}

const KIND_ORDER = ['Actuator', 'Pipeline', 'Trigger', 'Event'];

/** The change from `active` to `next` (both one source's definitions, keyed by kind and name). */
export function planDefinitions(active: readonly PlanDefinition[], next: readonly PlanDefinition[]): DefinitionsPlan {
  const key = (d: PlanDefinition) => `${d.kind}\u0000${d.name}`;
  const before = new Map(active.map((d) => [key(d), d]));
  const after = new Map(next.map((d) => [key(d), d]));
  const plan: DefinitionsPlan = { added: [], changed: [], removed: [], unchanged: 0, triggers: [] };
  for (const [k, now] of after) {
    const was = before.get(k);
    if (!was) {
      plan.added.push(now);
      continue;
    }
    if (was.contentHash !== undefined && was.contentHash === now.contentHash) {
      plan.unchanged++;
      continue;
    }
    const fields = [...(was.file === now.file ? [] : [{ path: 'file', change: 'changed' as const, before: was.file, after: now.file }]), ...diffPaths(was.metadata ?? {}, now.metadata ?? {}, 'metadata'), ...diffPaths(was.spec, now.spec, 'spec')];
    if (fields.length === 0) plan.unchanged++;
    else plan.changed.push({ before: was, after: now, fields });
  }
  for (const [k, was] of before) if (!after.has(k)) plan.removed.push(was);
  plan.added.sort(byKindAndName);
  plan.removed.sort(byKindAndName);
  plan.changed.sort((a, b) => byKindAndName(a.after, b.after));

  for (const d of plan.added) if (d.kind === 'Trigger') plan.triggers.push({ name: d.name, change: 'added', words: describeTrigger(asObject(d.spec)) });
  for (const c of plan.changed) {
    if (c.after.kind !== 'Trigger') continue;
    const words = triggerChangeWords(asObject(c.before.spec), asObject(c.after.spec));
    if (words.length > 0) plan.triggers.push({ name: c.after.name, change: 'changed', words });
  }
  for (const d of plan.removed) if (d.kind === 'Trigger') plan.triggers.push({ name: d.name, change: 'removed', words: [`${describeEvent(asObject(d.spec))} no longer starts ${pipelineNames(asObject(d.spec)) || 'anything'}`] });
  plan.triggers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return plan;
}

/**
 * Where `before` and `after` differ, as paths under `path`. Objects are compared key by key;
 * lists whose items all have a unique `name` (tasks, inputs, outputs) item by item
 * (`spec.tasks[build]`); other lists (commands, filters) as one value.
 */
export function diffPaths(before: unknown, after: unknown, path: string): FieldChange[] {
  if (sameValue(before, after)) return [];
  if (before === undefined) return [{ path, change: 'added', after }];
  if (after === undefined) return [{ path, change: 'removed', before }];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffPaths(before[k], after[k], `${path}${keySegment(k)}`));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const was = byName(before);
    const now = byName(after);
    if (was && now) {
      const names = [...now.keys(), ...[...was.keys()].filter((n) => !now.has(n))];
      return names.flatMap((n) => diffPaths(was.get(n), now.get(n), `${path}${nameSegment(n)}`));
    }
  }
  return [{ path, change: 'changed', before, after }];
}

/** Phrases saying how a trigger's firing changes; empty when only other fields (description, report) changed. */
export function triggerChangeWords(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const words: string[] = [];
  const eventBefore = asObject(before.event);
  const eventAfter = asObject(after.event);
  for (const field of ['source', 'type', 'subject']) words.push(...valueWords(`event.${field}`, eventBefore[field], eventAfter[field]));
  for (const field of ['command', 'permission', 'schedule', 'timezone']) words.push(...valueWords(field, before[field], after[field]));
  const filtersBefore = asArray(before.filters).map(describeFilter);
  const filtersAfter = asArray(after.filters).map(describeFilter);
  if (!sameValue(filtersBefore, filtersAfter)) {
    const added = filtersAfter.filter((f) => !filtersBefore.includes(f));
    const removed = filtersBefore.filter((f) => !filtersAfter.includes(f));
    const parts = [...added.map((f) => `+ ${f}`), ...removed.map((f) => `− ${f}`)];
    words.push(parts.length > 0 ? `filters changed: ${parts.join(', ')}` : 'filters reordered');
  }
  const operatorBefore = before.filtersOperator ?? 'and';
  const operatorAfter = after.filtersOperator ?? 'and';
  if (operatorBefore !== operatorAfter) words.push(operatorAfter === 'or' ? 'filters now match when any one holds (or)' : 'filters now match only when all hold (and)');
  const startsBefore = pipelineNames(before);
  const startsAfter = pipelineNames(after);
  if (startsBefore !== startsAfter) words.push(`starts ${startsBefore || 'nothing'} → ${startsAfter || 'nothing'}`);
  else if (!sameValue(before.pipelines, after.pipelines)) words.push(`pipeline inputs changed`);
  if (!sameValue(before.dedupe, after.dedupe) || !sameValue(before.dedupeWindow, after.dedupeWindow)) words.push('dedupe changed');
  return words;
}

/** A new trigger in words: what it listens to, how many filters, what it starts. */
function describeTrigger(spec: Record<string, unknown>): string[] {
  const filters = asArray(spec.filters);
  return [`listens to ${describeEvent(spec)}`, ...(filters.length > 0 ? [`${filters.length} filter${filters.length === 1 ? '' : 's'}`] : []), `starts ${pipelineNames(spec) || 'nothing'}`];
}

function describeEvent(spec: Record<string, unknown>): string {
  const event = asObject(spec.event);
  const source = typeof event.source === 'string' ? event.source : undefined;
  if (typeof spec.schedule === 'string') return `${source && source !== 'schedule' ? `${source} ` : ''}schedule "${spec.schedule}"`;
  const parts = [source ?? 'any source'];
  if (typeof event.type === 'string') parts.push(event.type);
  if (typeof event.subject === 'string') parts.push(`subject ${event.subject}`);
  if (typeof spec.command === 'string') parts.push(`command ${spec.command}`);
  return parts.join(' ');
}

/** A filter as a short phrase: `body.ref in [refs/heads/main]`, `body.x regex [a.*]`, `expr size(body.commits) > 0`. */
function describeFilter(filter: unknown): string {
  const f = asObject(filter);
  if (typeof f.expr === 'string') return `expr ${f.expr}`;
  const values = Array.isArray(f.value) ? f.value : [f.value];
  const match = typeof f.match === 'string' && f.match !== 'exact' ? f.match : 'in';
  return `${String(f.path)} ${match} [${values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}]`;
}

function valueWords(label: string, before: unknown, after: unknown): string[] {
  if (sameValue(before, after)) return [];
  if (before === undefined) return [`${label} now ${show(after)}`];
  if (after === undefined) return [`${label} ${show(before)} dropped`];
  return [`${label} ${show(before)} → ${show(after)}`];
}

function pipelineNames(spec: Record<string, unknown>): string {
  return asArray(spec.pipelines)
    .map((p) => asObject(p).name)
    .filter((n): n is string => typeof n === 'string')
    .join(', ');
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Items by their `name`, or undefined when some item has none or two share one. */
function byName(items: readonly unknown[]): Map<string, unknown> | undefined {
  const map = new Map<string, unknown>();
  for (const item of items) {
    const name = isObject(item) ? item.name : undefined;
    if (typeof name !== 'string' || map.has(name)) return undefined;
    map.set(name, item);
  }
  return map;
}

function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function nameSegment(name: string): string {
  return /^[\w.-]+$/.test(name) ? `[${name}]` : `[${JSON.stringify(name)}]`;
}

/** Deep equality of JSON values; a key holding `undefined` counts as absent. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameValue(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!sameValue(a[k], b[k])) return false;
    return true;
  }
  return false;
}

function byKindAndName(a: PlanDefinition, b: PlanDefinition): number {
  const rank = (kind: string) => {
    const i = KIND_ORDER.indexOf(kind);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return rank(a.kind) - rank(b.kind) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
