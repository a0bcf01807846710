// Validates a whole set of files (a repository) at once: parse, classify, schema-check,
// then run every semantic rule across the set. Pure: the same files give the same result.
// `validateParsed` also validates incrementally: given the state of the previous pass, it
// re-checks only the files that changed and the definitions that refer to them by name, and
// reuses the other findings, so one changed file in ten thousand costs milliseconds.
import { sortDiagnostics, type Diagnostic } from '../loader/diagnostic.js';
import { parseYamlFile, type SourceFile, type YamlParseOptions } from '../loader/parse-yaml.js';
import type { Pipeline, Trigger } from '../language/index.js';
import { toDefinition } from './classify.js';
import { createContext, type Rule } from './context.js';
import type { Definition } from './definition.js';
import { keepInputText } from './input-text.js';
import { actuatorConnections } from './rules/actuators.js';
import { expressionReferences } from './rules/expressions.js';
import { uniqueNames } from './rules/names.js';
import { pipelineCycles, pipelineShape } from './rules/pipelines.js';
import { noSecretLiterals } from './rules/secrets.js';
import { notifySinks } from './rules/notify.js';
import { selectorsSatisfied } from './rules/selectors.js';
import { triggerShape } from './rules/triggers.js';

/** Rules that look at the whole set every pass (they are cheap). */
const SET_RULES: readonly Rule[] = [uniqueNames, actuatorConnections, pipelineCycles, selectorsSatisfied];
/** Rules about one definition at a time (and the pipelines it names): re-run only where needed. */
const DEFINITION_RULES: readonly Rule[] = [pipelineShape, triggerShape, notifySinks, expressionReferences, noSecretLiterals];

/** The semantic rules, in the order they run. */
export const RULES: readonly Rule[] = [...SET_RULES, ...DEFINITION_RULES];

export interface ValidationResult {
  definitions: Definition[];
  /** Sorted by file, line and column. */
  diagnostics: Diagnostic[];
  errors: number;
  warnings: number;
}

/** One file parsed, classified and schema-checked: the part of validation that needs no other file. */
export interface ParsedFile {
  path: string;
  definitions: Definition[];
  /** Syntax and schema findings of this file. */
  diagnostics: Diagnostic[];
}

/** What an incremental pass keeps for the next one. Opaque to callers. */
export interface ValidationState {
  files: ReadonlySet<ParsedFile>;
  findings: ReadonlyMap<Definition, Diagnostic[]>;
}

export interface IncrementalResult extends ValidationResult {
  state: ValidationState;
  /** Definitions checked by the per-definition rules in this pass (all of them in a full pass). */
  checked: number;
  /**
   * Files whose values this pass rewrote (a number given to a string input keeps its text):
   * they depend on other files, so a cache must not hand them to a later pass.
   */
  rewritten: Set<ParsedFile>;
}

/** `options.maxAliases` is `limits.yaml.maxAliases` (default 100). */
export function parseDefinitionFile(file: SourceFile, options: YamlParseOptions = {}): ParsedFile {
  const diagnostics: Diagnostic[] = [];
  const definitions: Definition[] = [];
  const parsed = parseYamlFile(file, options);
  diagnostics.push(...parsed.diagnostics);
  for (const doc of parsed.documents) {
    const def = toDefinition(doc, diagnostics);
    if (def) definitions.push(def);
  }
  return { path: file.path, definitions, diagnostics };
}

export function validateFiles(files: readonly SourceFile[], options: YamlParseOptions = {}): ValidationResult {
  const { definitions, diagnostics, errors, warnings } = validateParsed(files.map((file) => parseDefinitionFile(file, options)));
  return { definitions, diagnostics, errors, warnings };
}

/**
 * Validates parsed files as one set. With `previous` (the state of an earlier pass over mostly
 * the same ParsedFile objects), per-definition rules run only on definitions of new files and on
 * definitions that name a pipeline whose file changed; their other findings are reused.
 */
export function validateParsed(files: readonly ParsedFile[], previous?: ValidationState): IncrementalResult {
  const definitions = files.flatMap((f) => f.definitions);
  const fileOf = new Map<Definition, ParsedFile>();
  for (const f of files) for (const d of f.definitions) fileOf.set(d, f);
  const fresh = previous ? files.filter((f) => !previous.files.has(f)) : files;
  const current = new Set(files);
  const gone = previous ? [...previous.files].filter((f) => !current.has(f)) : [];

  let checks: ((def: Definition) => boolean) | undefined;
  if (previous) {
    const freshSet = new Set(fresh);
    const changedPipelines = new Set<string>();
    for (const f of [...fresh, ...gone]) for (const d of f.definitions) if (d.kind === 'Pipeline') changedPipelines.add(d.name);
    const pipelineNames = new Set(definitions.filter((d) => d.kind === 'Pipeline').map((d) => d.name));
    const targets = new Set<Definition>();
    for (const def of definitions) {
      if (
        freshSet.has(fileOf.get(def) as ParsedFile) ||
        !previous.findings.has(def) ||
        // A name that resolves differently now, or did not resolve: messages and checks change.
        namedPipelines(def).some((name) => changedPipelines.has(name) || !pipelineNames.has(name))
      ) {
        targets.add(def);
      }
    }
    checks = (def) => targets.has(def);
  }

  const setFindings: Diagnostic[] = [];
  const findings = new Map<Definition, Diagnostic[]>();
  const rewritten = new Set<ParsedFile>();
  const ctx = createContext(definitions, setFindings, {
    ...(checks ? { checks } : {}),
    sink: (d, def) => (findings.get(def) ?? findings.set(def, []).get(def))?.push(d),
  });
  for (const def of keepInputText(ctx)) rewritten.add(fileOf.get(def) as ParsedFile);
  // Set rules first, their findings kept apart: they are recomputed on every pass.
  const setCtx = createContext(definitions, setFindings);
  for (const rule of SET_RULES) rule(setCtx);

  let checked = 0;
  for (const def of definitions) {
    if (ctx.checks(def)) {
      checked++;
      findings.set(def, []);
    } else findings.set(def, previous?.findings.get(def) ?? []);
  }
  for (const rule of DEFINITION_RULES) rule(ctx);

  const all = [...files.flatMap((f) => f.diagnostics), ...setFindings, ...[...findings.values()].flat()].map(capMessage);
  const sorted = sortDiagnostics(all);
  const errors = sorted.filter((d) => d.severity === 'error').length;
  return {
    definitions,
    diagnostics: sorted,
    errors,
    warnings: sorted.length - errors,
    state: { files: current, findings },
    checked,
    rewritten,
  };
}

/** Longest message a diagnostic keeps: room for any rule's advice plus a short quote of the value. */
const MAX_MESSAGE = 400;

/**
 * Diagnostics quote values from the file (`unsupported apiVersion "…"`), and anyone with a read
 * token sees them: a value of many lines or kilobytes is cut, so no message carries more of the
 * file than a piece of one line.
 */
function capMessage(d: Diagnostic): Diagnostic {
  const line = d.message.split(/\r?\n/, 1)[0] ?? '';
  if (line === d.message && line.length <= MAX_MESSAGE) return d;
  return { ...d, message: `${line.slice(0, MAX_MESSAGE)}…` };
}

/** Pipelines a definition refers to by name (a trigger's pipelines, a pipeline's pipeline tasks). */
function namedPipelines(def: Definition): string[] {
  if (!def.valid) return [];
  if (def.kind === 'Trigger') return ((def.value as Trigger).spec.pipelines ?? []).map((p) => p.name);
  if (def.kind === 'Pipeline') {
    const spec = (def.value as Pipeline).spec;
    return [...spec.tasks, ...(spec.finally ?? [])].flatMap((t) => (t.type === 'pipeline' && t.pipeline ? [t.pipeline] : []));
  }
  return [];
}
