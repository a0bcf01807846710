// Validates a whole set of files (a repository) at once: parse, classify, schema-check,
// then run every semantic rule across the set. Pure: the same files give the same result.
import { sortDiagnostics, type Diagnostic } from '../loader/diagnostic.js';
import { parseYamlFile, type SourceFile } from '../loader/parse-yaml.js';
import { toDefinition } from './classify.js';
import { createContext, type Rule } from './context.js';
import type { Definition } from './definition.js';
import { keepInputText } from './input-text.js';
import { actuatorConnections } from './rules/actuators.js';
import { expressionReferences } from './rules/expressions.js';
import { uniqueNames } from './rules/names.js';
import { pipelineShape } from './rules/pipelines.js';
import { noSecretLiterals } from './rules/secrets.js';
import { selectorsSatisfied } from './rules/selectors.js';
import { triggerShape } from './rules/triggers.js';

/** The semantic rules, in the order they run. */
export const RULES: readonly Rule[] = [
  uniqueNames,
  actuatorConnections,
  pipelineShape,
  triggerShape,
  expressionReferences,
  noSecretLiterals,
  selectorsSatisfied,
];

export interface ValidationResult {
  definitions: Definition[];
  /** Sorted by file, line and column. */
  diagnostics: Diagnostic[];
  errors: number;
  warnings: number;
}

export function validateFiles(files: readonly SourceFile[]): ValidationResult {
  const diagnostics: Diagnostic[] = [];
  const definitions: Definition[] = [];
  for (const file of files) {
    const parsed = parseYamlFile(file);
    diagnostics.push(...parsed.diagnostics);
    for (const doc of parsed.documents) {
      const def = toDefinition(doc, diagnostics);
      if (def) definitions.push(def);
    }
  }
  const ctx = createContext(definitions, diagnostics);
  keepInputText(ctx);
  for (const rule of RULES) rule(ctx);
  const sorted = sortDiagnostics(diagnostics);
  const errors = sorted.filter((d) => d.severity === 'error').length;
  return { definitions, diagnostics: sorted, errors, warnings: sorted.length - errors };
}
