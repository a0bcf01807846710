// What the reconcile loop needs from a place that holds definitions (a git repository, a local
// folder): its current revision cheaply, then the YAML files of that revision with blob ids, so
// files whose blob was parsed before are not read or parsed again.

/** One YAML file of a revision. */
export interface SourceEntry {
  /** Path relative to the source's `dir`, with `/` separators, e.g. `pipelines/deploy.yaml`. */
  path: string;
  /** Git blob id (40 hex): the same content always has the same id, in git and in folders. */
  oid: string;
  /** Why the file is not read (a symlink leading out of the folder): shown as its diagnostic, `read` is never called. */
  refused?: string;
}

export interface SourceSnapshot {
  /** The revision these files belong to (as `resolve` returned it). */
  revision: string;
  /** YAML files (`.yaml`/`.yml`) under `dir`, minus `ignore` globs, sorted by path. */
  entries: SourceEntry[];
  /** Reads one file's text (UTF-8) by its entry. */
  read(entry: SourceEntry): Promise<string>;
}

export interface DefinitionSource {
  /**
   * The revision the source holds now, as cheaply as possible: one `ls-remote` for git (a
   * commit id), a content hash for a folder (`sha256:…`). Throws a SourceError.
   */
  resolve(signal?: AbortSignal): Promise<string>;
  /** Fetches (git) what `resolve` returned and lists its files. Throws a SourceError. */
  snapshot(revision: string, signal?: AbortSignal): Promise<SourceSnapshot>;
  /** Calls `onChange` (debounced) when the source changes by itself (a watched folder). Returns a stop function. */
  watch?(onChange: () => void): () => Promise<void>;
  /** Releases caches, watchers and connections. Idempotent. */
  close(): Promise<void>;
}
