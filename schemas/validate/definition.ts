// A definition is one document of a known kind, with its v1 value and a way back to the
// source position of any path inside it (also through the legacy converter).
import type { Kind } from '../language/index.js';
import type { Position } from '../loader/diagnostic.js';
import type { Path, YamlDocument } from '../loader/parse-yaml.js';

export interface Definition<T = unknown> {
  kind: Kind;
  /** `metadata.name`; empty for events, which have none. */
  name: string;
  file: string;
  /** Position of the document (its first key). */
  line: number;
  column: number;
  /** The v1 value; for an original-format file, the converted value. */
  value: T;
  /** Name of the original eventops format when the file was converted, e.g. `pipelineDefinition`. */
  legacy?: string;
  /** True when the value passed the kind's JSON Schema; semantic rules only read valid values. */
  valid: boolean;
  document: YamlDocument;
  /** Source position of a path inside `value`. */
  locate(path: Path, at?: 'value' | 'key'): Position;
}
