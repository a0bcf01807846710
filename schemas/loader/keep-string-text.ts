// YAML reads `version: 1.0` as the number 1. Where the schema declares a string, the user
// meant the text they wrote, so this puts the source text back. Free-form places (inputs,
// event bodies) keep YAML's own types; literal inputs are matched to declared types later.
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

/** Returns `value` with non-string scalars replaced by their source text wherever `schema` wants only a string. */
export function keepStringText(value: unknown, schema: object, doc: YamlDocument): unknown {
  return walk(value, [schema as JsonSchema], [], doc);
}

function walk(value: unknown, schemas: JsonSchema[], path: PathSegment[], doc: YamlDocument): unknown {
  const branches = flatten(schemas);
  if (branches.length === 0) return value;
  if (typeof value === 'number' || typeof value === 'boolean') {
    const types = new Set(branches.flatMap(typesOf));
    const wantsString = types.has('string') && !types.has('number') && !types.has('integer') && !types.has('boolean') && !types.has('*');
    return wantsString ? (doc.sourceText(path) ?? String(value)) : value;
  }
  if (Array.isArray(value)) {
    const items = branches.flatMap((s) => (s.items ? [s.items] : []));
    return items.length === 0 ? value : value.map((v, i) => walk(v, items, [...path, i], doc));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const sub = branches.flatMap((s) => childSchemas(s, key));
      out[key] = sub.length === 0 ? v : walk(v, sub, [...path, key], doc);
    }
    return out;
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
