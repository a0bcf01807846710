// The reconcile of one source as ordered steps (Flux source-controller style): resolve the
// revision, stop if nothing changed, fetch, parse what is new, validate, store. Each step has
// the same signature; `runReconcile` times them and always summarises status in a `finally`.
import { mapLimit } from './map-limit.js';
import { validateParsed, type ParsedFile } from '../schemas/index.js';
import { parseEntry } from './parse-entry.js';
import { toRecord } from './definition-rows.js';
import type { ReconcileContext, Step } from './reconcile-context.js';
import { setCondition, shortRevision } from './conditions.js';
import { applyRevision, recordInvalidRevision, saveStatus, type RevisionFacts } from './store-revision.js';

/** Asks the source for its revision: one ref lookup for git, a stat walk for a folder. */
export const resolveRevision: Step = async (ctx) => {
  ctx.revision = await ctx.source.resolve(ctx.signal);
  return 'continue';
};

/** The revision and configuration that were last tried (applied or found invalid): no work. */
export const skipUnchanged: Step = async (ctx) => {
  if (ctx.row.lastRevision === ctx.revision && ctx.row.lastConfigHash === ctx.configHash) {
    ctx.outcome = 'unchanged';
    return 'stop';
  }
  return 'continue';
};

/** Shows `Reconciling` while the new revision is fetched and checked (a large one takes seconds). */
export const markReconciling: Step = async (ctx) => {
  const conditions = setCondition(ctx.row.conditions, 'Reconciling', 'True', 'Progressing', `reconciling revision ${shortRevision(ctx.revision as string)}`, ctx.now());
  await saveStatus(ctx.db, ctx.config.name, { conditions, history: ctx.row.history });
  ctx.row = { ...ctx.row, conditions };
  return 'continue';
};

export const fetchSnapshot: Step = async (ctx) => {
  ctx.snapshot = await ctx.source.snapshot(ctx.revision as string, ctx.signal);
  ctx.revision = ctx.snapshot.revision;
  return 'continue';
};

/** Parses the files whose blob was not parsed before; reuses the others as they are. */
export const parseFiles: Step = async (ctx) => {
  const snapshot = ctx.snapshot as NonNullable<ReconcileContext['snapshot']>;
  const prefix = ctx.config.dir ? `${ctx.config.dir}/` : '';
  const { parsed } = ctx.memory;
  const seen = new Set<string>();
  ctx.files = await mapLimit(snapshot.entries, 32, async (entry): Promise<ParsedFile> => {
    const path = prefix + entry.path;
    seen.add(path);
    const known = parsed.get(path);
    if (known && known.oid === entry.oid) return known.file;
    const file = await parseEntry(snapshot, entry, path, ctx.yaml);
    ctx.stats.filesParsed++;
    parsed.set(path, { oid: entry.oid, file });
    return file;
  });
  for (const path of parsed.keys()) if (!seen.has(path)) parsed.delete(path);
  return 'continue';
};

/** Validates the whole set, re-checking only what changed since the last pass. */
export const validateSet: Step = async (ctx) => {
  const files = ctx.files as ParsedFile[];
  ctx.validation = validateParsed(files, ctx.memory.validation);
  ctx.memory.validation = ctx.validation.state;
  // A file whose values depend on another file (a number passed to a string input keeps its
  // text) was changed in place: parse it again next time rather than trust it.
  for (const [path, known] of ctx.memory.parsed) if (ctx.validation.rewritten.has(known.file)) ctx.memory.parsed.delete(path);
  return 'continue';
};

/** Applies a valid revision in one transaction, or records an invalid one without applying it. */
export const storeRevision: Step = async (ctx) => {
  const result = ctx.validation as NonNullable<ReconcileContext['validation']>;
  const facts: RevisionFacts = {
    source: ctx.config.name,
    commit: ctx.revision as string,
    configHash: ctx.configHash,
    diagnostics: result.diagnostics.map(({ file, line, column, severity, rule, message }) => ({ file, line, column, severity, rule, message })),
    errorCount: result.errors,
    warningCount: result.warnings,
    fileCount: ctx.files?.length ?? 0,
    definitionCount: result.definitions.length,
    timings: ctx.timings,
  };
  ctx.stats.revisionsWritten++;
  if (result.errors > 0) {
    await recordInvalidRevision(ctx.db, facts);
    ctx.outcome = 'invalid';
    return 'stop';
  }
  ctx.applied = await applyRevision(ctx.db, facts, result.definitions.map(toRecord));
  ctx.stats.definitionsInserted += ctx.applied.inserted;
  ctx.activeCommit = facts.commit;
  ctx.outcome = 'applied';
  return 'continue';
};

/** The steps, in order. */
export const STEPS: readonly (readonly [string, Step])[] = [
  ['resolve', resolveRevision],
  ['unchanged', skipUnchanged],
  ['progress', markReconciling],
  ['fetch', fetchSnapshot],
  ['parse', parseFiles],
  ['validate', validateSet],
  ['store', storeRevision],
];
