// YAML reads `version: 1.0` as the number 1. Where the schema declares a string, the user
// meant the text they wrote, so this puts the source text back. Free-form places (event
// bodies, inputs) keep YAML's own types; literal inputs are matched to declared types later.
// Runs on every document, so the schema is compiled once into a tree of small descriptors. A
// node shared through a YAML alias is walked once, at its first path.
import type { PathSegment, YamlDocument } from './parse-yaml.js';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  patternProperties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  const?: unknown;
};

/** What the schema says at one place: whether a scalar there must be a string, and the places below. */
class Slot {
  readonly wantsString: boolean;
  private readonly children = new Map<string, Slot | null>();
  private itemSlot: Slot | null | undefined;

  constructor(private readonly branches: JsonSchema[]) {
    const types = new Set(branches.flatMap(typesOf));
    this.wantsString = types.has('string') && !types.has('number') && !types.has('integer') && !types.has('boolean') && !types.has('*');
  }

  child(key: string): Slot | null {
    let slot = this.children.get(key);
    if (slot === undefined) {
      slot = make(this.branches.flatMap((s) => childSchemas(s, key)));
      this.children.set(key, slot);
    }
    return slot;
  }

  item(): Slot | null {
    if (this.itemSlot === undefined) this.itemSlot = make(this.branches.flatMap((s) => (s.items ? [s.items] : [])));
    return this.itemSlot;
  }
}

const roots = new WeakMap<object, Slot | null>();

/** Returns `value` with non-string scalars replaced by their source text wherever `schema` wants only a string. */
export function keepStringText(value: unknown, schema: object, doc: YamlDocument): unknown {
  let root = roots.get(schema);
  if (root === undefined) {
    root = make([schema as JsonSchema]);
    roots.set(schema, root);
  }
  return root ? walk(value, root, [], doc, new WeakSet()) : value;
}

function make(schemas: JsonSchema[]): Slot | null {
  const branches = flatten(schemas);
  return branches.length === 0 ? null : new Slot(branches);
}

/** Changes `value` in place where needed (it is the loader's own copy) and returns it. */
function walk(value: unknown, slot: Slot, path: PathSegment[], doc: YamlDocument, seen: WeakSet<object>): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') {
    return slot.wantsString ? (doc.sourceText(path) ?? String(value)) : value;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    const item = slot.item();
    if (!item) return value;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === 'string') continue;
      path.push(i);
      value[i] = walk(v, item, path, doc, seen);
      path.pop();
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const v = record[key];
    if (typeof v === 'string') continue;
    const child = slot.child(key);
    if (!child) continue;
    path.push(key);
    record[key] = walk(v, child, path, doc, seen);
    path.pop();
  }
  return value;
}

function flatten(schemas: JsonSchema[]): JsonSchema[] {
  return schemas.flatMap((s) => {
    const nested = [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])];
    return nested.length > 0 ? flatten(nested) : [s];
  });
}

function typesOf(s: JsonSchema): string[] {
  if (s.const !== undefined) return [typeof s.const];
  if (s.type === undefined) return ['*'];
  return Array.isArray(s.type) ? s.type : [s.type];
}

function childSchemas(s: JsonSchema, key: string): JsonSchema[] {
  if (s.properties?.[key]) return [s.properties[key]];
  for (const [pattern, sub] of Object.entries(s.patternProperties ?? {})) {
    if (compiled(pattern).test(key)) return [sub];
  }
  return typeof s.additionalProperties === 'object' ? [s.additionalProperties] : [];
}

const patterns = new Map<string, RegExp>();
function compiled(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) patterns.set(pattern, (re = new RegExp(pattern, 'u')));
  return re;
}
