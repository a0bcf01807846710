// What every semantic rule receives: the whole set of definitions, indexes by kind and
// name, and one way to report a finding at a path inside a definition.
import type { Actuator, Pipeline, Trigger } from '../language/index.js';
import type { Diagnostic, Severity } from '../loader/diagnostic.js';
import type { Path } from '../loader/parse-yaml.js';
import type { Definition } from './definition.js';

export interface RuleContext {
  /** Definitions that passed their schema. */
  definitions: Definition[];
  /** Every definition, also those that failed their schema (for names and secrets). */
  all: Definition[];
  actuators: Definition<Actuator>[];
  pipelines: Map<string, Definition<Pipeline>>;
  triggers: Definition<Trigger>[];
  /** Names that exist but failed the schema: references to them are not reported again. */
  invalidNames: Set<string>;
  /**
   * Whether a per-definition rule should check `def` in this pass. Always true for a full
   * validation; an incremental one checks only what changed and what refers to it.
   */
  checks(def: Definition): boolean;
  report(def: Definition, path: Path, rule: string, message: string, options?: { severity?: Severity; at?: 'value' | 'key' }): void;
}

export type Rule = (ctx: RuleContext) => void;

export interface ContextOptions {
  checks?: (def: Definition) => boolean;
  /** Receives each finding with the definition it is about (defaults to pushing into `diagnostics`). */
  sink?: (diagnostic: Diagnostic, def: Definition) => void;
}

export function createContext(definitions: Definition[], diagnostics: Diagnostic[], options: ContextOptions = {}): RuleContext {
  const sink = options.sink ?? ((d: Diagnostic) => diagnostics.push(d));
  const valid = definitions.filter((d) => d.valid);
  const pipelines = new Map<string, Definition<Pipeline>>();
  for (const d of valid) if (d.kind === 'Pipeline' && !pipelines.has(d.name)) pipelines.set(d.name, d as Definition<Pipeline>);
  return {
    definitions: valid,
    all: definitions,
    actuators: valid.filter((d) => d.kind === 'Actuator') as Definition<Actuator>[],
    pipelines,
    triggers: valid.filter((d) => d.kind === 'Trigger') as Definition<Trigger>[],
    invalidNames: new Set(definitions.filter((d) => !d.valid && d.name).map((d) => `${d.kind}/${d.name}`)),
    checks: options.checks ?? (() => true),
    report(def, path, rule, message, options = {}) {
      const position = def.locate(path, options.at);
      sink({ file: def.file, ...position, severity: options.severity ?? 'error', rule, message }, def);
    },
  };
}
