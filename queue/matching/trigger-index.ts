// The active triggers of every source, indexed so that an event looks at the few triggers
// that listen to it instead of all of them: by event source, then by type (or type.action),
// then by subject pattern in a trie, or by the value of their first exact data filter (the
// usual `body.repository.full_name`: thousands of `push` triggers of hundreds of
// repositories); slash-commands by command word; schedule triggers by name. Triggers that
// constrain nothing of an event are candidates for everything of their source. Built once
// per set of active revisions; read-only afterwards.
import { commandsOf, type CommandCall } from './commands.js';
import { compileTrigger, typeMatches, whyNotCandidate, type CompiledTrigger, type TriggerEntry } from './compiled-trigger.js';
import { pathReader } from './filters.js';
import { scheduleTarget, type NormalizedEvent } from './normalized-event.js';
import { SubjectTrie, subjectMatches } from './subject-trie.js';

/**
 * Triggers that agree on source and type: those that name a subject in a trie, those with an
 * exact data filter by the filter's path and value, the rest in a list.
 */
interface Group {
  any: CompiledTrigger[];
  subjects: SubjectTrie<CompiledTrigger>;
  byFilter: Map<string, { read: (event: NormalizedEvent) => unknown; byValue: Map<string, CompiledTrigger[]> }>;
}

interface Bucket {
  anyType: Group;
  byType: Map<string, Group>;
}

export interface TriggerIndex {
  /** Every trigger, in the order given. */
  readonly triggers: readonly CompiledTrigger[];
  /**
   * The triggers `event` may be for, in index order — those it is for by source, type, subject,
   * command and schedule, less those whose key filter (see CompiledTrigger) it cannot pass —
   * and the comment's command, if any.
   */
  candidates(event: NormalizedEvent): { candidates: CompiledTrigger[]; commands: CommandCall[] };
  /** Why `event` is not for `trigger`, or undefined when it is a candidate. */
  whyNot(trigger: CompiledTrigger, event: NormalizedEvent, commands: readonly CommandCall[]): string | undefined;
}

// Bucket key of triggers that name no event source.
const ANY_SOURCE = '\u0000any';

/** Builds the index of `entries` (triggers of any number of sources). */
export function buildTriggerIndex(entries: readonly TriggerEntry[]): TriggerIndex {
  return indexOf(entries.map(compileTrigger));
}

/**
 * buildTriggerIndex for the server: compiling is the costly part (each filter's CEL parsed and
 * checked), so it is done in slices of `sliceMs` (10 by default) with the event loop let run
 * between them; 10,000 triggers held it for over a second in one go.
 */
export async function buildTriggerIndexYielding(entries: readonly TriggerEntry[], options: { sliceMs?: number; pause?: () => Promise<void> } = {}): Promise<TriggerIndex> {
  const sliceMs = options.sliceMs ?? 10;
  const pause = options.pause ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  const triggers: CompiledTrigger[] = [];
  let sliceStart = performance.now();
  for (const [i, entry] of entries.entries()) {
    triggers.push(compileTrigger(entry, i));
    if (performance.now() - sliceStart < sliceMs) continue;
    await pause();
    sliceStart = performance.now();
  }
  return indexOf(triggers);
}

function indexOf(triggers: CompiledTrigger[]): TriggerIndex {
  const buckets = new Map<string, Bucket>();
  const commands = new Map<string, CompiledTrigger[]>();
  const scheduled = new Map<string, CompiledTrigger>();
  for (const t of triggers) {
    if (t.scheduled) scheduled.set(scheduleKey(t.entry.source, t.name), t);
    else if (t.command !== undefined) push(commands, t.command, t);
    else {
      const bucket = getOrAdd(buckets, t.eventSource ?? ANY_SOURCE, () => ({ anyType: group(), byType: new Map() }));
      const into = t.type === undefined ? bucket.anyType : getOrAdd(bucket.byType, t.type, group);
      if (t.subject !== undefined) into.subjects.insert(t.subject, t);
      else if (t.keyFilter) {
        const { path, values } = t.keyFilter;
        const byPath = getOrAdd(into.byFilter, path, () => ({ read: pathReader(path), byValue: new Map<string, CompiledTrigger[]>() }));
        for (const key of new Set(values.map(valueKey))) push(byPath.byValue, key, t);
      } else into.any.push(t);
    }
  }

  const candidates = (event: NormalizedEvent): { candidates: CompiledTrigger[]; commands: CommandCall[] } => {
    const found: CompiledTrigger[] = [];
    if (event.source === 'schedule') {
      const tick = scheduleTarget(event);
      const target = tick && scheduled.get(scheduleKey(tick.source, tick.trigger));
      return { candidates: target ? [target] : [], commands: [] };
    }
    for (const key of [event.source, ANY_SOURCE]) {
      const bucket = buckets.get(key);
      if (!bucket) continue;
      collect(bucket.anyType, event, found);
      collect(bucket.byType.get(event.type), event, found);
      if (event.action !== undefined) collect(bucket.byType.get(`${event.type}.${event.action}`), event, found);
    }
    const calls = commands.size > 0 ? commandsOf(event) : [];
    // A command written twice in one comment calls its triggers once.
    for (const name of new Set(calls.map((c) => c.name))) {
      for (const t of commands.get(name) ?? []) {
        if (t.type !== undefined && !typeMatches(t.type, event)) continue;
        if (t.subject !== undefined && (event.subject === undefined || !subjectMatches(t.subject, event.subject))) continue;
        found.push(t);
      }
    }
    if (found.length > 1) found.sort((a, b) => a.ordinal - b.ordinal);
    return { candidates: found, commands: calls };
  };

  return { triggers, candidates, whyNot: whyNotCandidate };
}

/** Adds the triggers of `g` that `event` may be for to `found`. */
function collect(g: Group | undefined, event: NormalizedEvent, found: CompiledTrigger[]): void {
  if (!g) return;
  for (const t of g.any) found.push(t);
  if (event.subject !== undefined) g.subjects.match(event.subject, found);
  for (const { read, byValue } of g.byFilter.values()) {
    const value = read(event);
    const hits = value === undefined ? undefined : byValue.get(valueKey(value));
    if (hits) for (const t of hits) found.push(t);
  }
}

function group(): Group {
  return { any: [], subjects: new SubjectTrie(), byFilter: new Map() };
}

/** Exact filters keep YAML types: the number 1 and the text "1" are different keys. */
function valueKey(value: unknown): string {
  return value !== null && typeof value === 'object' ? '\u0000object' : `${typeof value}:${String(value)}`;
}

function scheduleKey(source: string, trigger: string): string {
  return `${source}\u0000${trigger}`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  getOrAdd(map, key, () => []).push(value);
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}
