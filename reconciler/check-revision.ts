// Checks one commit of a git source without applying it: fetches that commit (the same git
// source as the reconciler, with its own cache folder), lists the source's `dir` minus its
// `ignore` globs, and parses and validates the files exactly as a reconcile does (the same
// parser, the same validator over the whole set, paths in the repository with `dir` included).
// Nothing is written to the database. The only secret it reads is the source's own `auth.token`,
// to read the repository; secret references inside definitions are never resolved.
import { join } from 'node:path';
import type { Limits, SecretStore, SourceConfig } from '../config/index.js';
import { validateParsed, type Diagnostic, type ParsedFile } from '../schemas/index.js';
import { parseEntry } from './parse-entry.js';
import { toRecord, type DefinitionRecord } from './definition-rows.js';
import { SourceError } from './errors.js';
import { mapLimit } from './map-limit.js';
import { openSource } from './open-source.js';
import type { DefinitionSource } from './sources/source.js';
import { redact } from './sources/sanitize.js';

export interface RevisionCheck {
  source: string;
  /** The commit checked (40 hex, lower case). */
  commit: string;
  /** YAML files found under `dir` (after `ignore`). */
  files: number;
  /** Every finding, sorted by file, line and column; `file` is the path in the repository. */
  diagnostics: Diagnostic[];
  errors: number;
  warnings: number;
  /** The definitions as the reconciler would store them (only meaningful when `errors` is 0). */
  definitions: DefinitionRecord[];
}

export interface RevisionChecker {
  /**
   * Validates `commit` of the git source `config`. Throws a SourceError when the commit cannot
   * be read (`transient`: try again later; `stalling`: e.g. `DirNotFound`, `AuthenticationFailed`).
   * Checks of one source run one at a time.
   */
  check(config: SourceConfig, commit: string, signal?: AbortSignal): Promise<RevisionCheck>;
  /** Releases the git caches held in memory. Idempotent. */
  close(): Promise<void>;
}

export interface RevisionCheckerDeps {
  /** Caches go under `<dataDir>/checks/cache/git/<source>`, apart from the reconciler's. */
  dataDir: string;
  secrets: SecretStore;
  /** `limits.yaml` (default DEFAULT_LIMITS.yaml). */
  yaml?: Limits['yaml'];
  /** Time and memory budget of each git fetch (default DEFAULT_LIMITS.git). */
  gitLimits?: Limits['git'];
}

export function createRevisionChecker(deps: RevisionCheckerDeps): RevisionChecker {
  const opened = new Map<string, { source: DefinitionSource; secretValues: string[]; url: string | undefined; tail: Promise<unknown> }>();
  const cacheRoot = join(deps.dataDir, 'checks');

  const sourceOf = (config: SourceConfig) => {
    let entry = opened.get(config.name);
    // A source reconfigured (another URL) gets a fresh git source; the cache folder is reused.
    if (entry && entry.url !== config.url) {
      void entry.source.close();
      entry = undefined;
    }
    if (!entry) {
      const secretValues: string[] = [];
      entry = { source: openSource(config, cacheRoot, deps.secrets, secretValues, deps.gitLimits), secretValues, url: config.url, tail: Promise.resolve() };
      opened.set(config.name, entry);
    }
    return entry;
  };

  return {
    async check(config, commit, signal) {
      if (config.type !== 'git') throw new SourceError('stalling', 'NotGit', `source ${config.name} is a folder, not a git repository: only git sources are checked by commit`);
      const entry = sourceOf(config);
      const run = entry.tail.then(async () => {
        try {
          return await checkWith(entry.source, config, commit, signal, deps.yaml);
        } catch (err) {
          if (err instanceof SourceError) throw err;
          const text = redact(err instanceof Error ? err.message : String(err), entry.secretValues);
          throw new SourceError('transient', 'CheckFailed', `checking commit ${commit} of source ${config.name} failed: ${text}`, { cause: err });
        }
      });
      entry.tail = run.catch(() => undefined);
      return run;
    },
    async close() {
      for (const entry of opened.values()) await entry.source.close();
      opened.clear();
    },
  };
}

async function checkWith(source: DefinitionSource, config: SourceConfig, commit: string, signal: AbortSignal | undefined, yaml: Limits['yaml'] | undefined): Promise<RevisionCheck> {
  const snapshot = await source.snapshot(commit, signal);
  // As the reconcile's parse step: a file's path is its path in the repository.
  const prefix = config.dir ? `${config.dir}/` : '';
  const files = await mapLimit(snapshot.entries, 32, async (entry): Promise<ParsedFile> => parseEntry(snapshot, entry, prefix + entry.path, yaml));
  const result = validateParsed(files);
  return {
    source: config.name,
    commit: snapshot.revision,
    files: files.length,
    diagnostics: result.diagnostics,
    errors: result.errors,
    warnings: result.warnings,
    definitions: result.definitions.map(toRecord),
  };
}
