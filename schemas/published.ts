// The JSON Schema documents published as `schemas/*.schema.json`: one per kind, plus
// `definition.schema.json` that picks the kind's schema from `kind`. No `$id`: references
// resolve relative to the file, so editors read the schemas next to it, offline.
import { API_VERSION, KindSchemas, Kinds } from './language/index.js';

export function publishedSchemas(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const kind of Kinds) {
    out[`${kind.toLowerCase()}.schema.json`] = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      ...KindSchemas[kind],
    };
  }
  out['definition.schema.json'] = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: `eventops definition (${API_VERSION})`,
    description: 'Any eventops definition; the schema is chosen by `kind`.',
    type: 'object',
    required: ['kind'],
    allOf: Kinds.map((kind) => ({
      if: { properties: { kind: { const: kind } }, required: ['kind'] },
      then: { $ref: `${kind.toLowerCase()}.schema.json` },
    })),
  };
  return out;
}
