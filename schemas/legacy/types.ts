// What the original-eventops converter gives back: the v1 value, a way to map a path in it
// to the path in the original document (so errors point at the user's real lines), and
// the problems found while converting.
import type { Kind } from '../language/index.js';
import type { Path } from '../loader/parse-yaml.js';

export type LegacyFormat = 'actuatorDefinition' | 'pipelineDefinition' | 'triggerDefinition' | 'event';

export interface LegacyProblem {
  /** Path in the original document. */
  path: Path;
  message: string;
  /** Default: error with rule `legacy-convert`. */
  severity?: 'error' | 'warning';
  rule?: string;
}

export interface LegacyConversion {
  format: LegacyFormat;
  kind: Kind;
  value: unknown;
  /** Maps a path inside `value` to the path of the original value it came from. */
  sourcePath(path: Path): Path;
  problems: LegacyProblem[];
}
