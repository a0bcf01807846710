// Turns validated definitions into the rows the definitions table stores, each with a content
// hash so an unchanged definition keeps its row from one revision to the next.
import { createHash } from 'node:crypto';
import type { Definition } from '../schemas/index.js';

export interface DefinitionRecord {
  kind: string;
  name: string;
  file: string;
  line: number;
  column: number;
  legacy: string | null;
  metadata: unknown;
  spec: unknown;
  contentHash: string;
}

// A definition object is reused from revision to revision while its file is unchanged, so its
// record (and hash) is computed once.
const records = new WeakMap<Definition, DefinitionRecord>();

/** The stored form of a definition. Events have no name: they are named by file and document. */
export function toRecord(def: Definition): DefinitionRecord {
  const cached = records.get(def);
  if (cached) return cached;
  const value = def.value as Record<string, unknown>;
  let metadata: unknown = value.metadata ?? {};
  let spec: unknown = value.spec;
  let name = def.name;
  if (def.kind === 'Event') {
    const { apiVersion: _a, kind: _k, ...rest } = value;
    metadata = {};
    spec = rest;
    name = `${def.file}#${def.document.index}`;
  }
  const legacy = def.legacy ?? null;
  const contentHash = createHash('sha256')
    .update(JSON.stringify([def.file, def.line, def.column, legacy, metadata, spec]))
    .digest('hex');
  const record: DefinitionRecord = { kind: def.kind, name, file: def.file, line: def.line, column: def.column, legacy, metadata, spec: spec ?? {}, contentHash };
  records.set(def, record);
  return record;
}
