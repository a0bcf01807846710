// Turns one file of a snapshot into a parsed file, the same way for a reconcile and for a
// commit check: a file the source refused to read (a symlink leading out of its folder) becomes
// a diagnostic of its own, and YAML is parsed within `limits.yaml`.
import type { Limits } from '../config/index.js';
import { parseDefinitionFile, type ParsedFile } from '../schemas/index.js';
import type { SourceEntry, SourceSnapshot } from './sources/source.js';

/** `path` is the file's path as shown in diagnostics (with the source's `dir`). */
export async function parseEntry(snapshot: SourceSnapshot, entry: SourceEntry, path: string, yaml: Limits['yaml'] | undefined): Promise<ParsedFile> {
  if (entry.refused !== undefined) {
    return { path, definitions: [], diagnostics: [{ file: path, line: 1, column: 1, severity: 'error', rule: 'unreadable-file', message: entry.refused }] };
  }
  return parseDefinitionFile({ path, text: await snapshot.read(entry) }, yaml ? { maxAliases: yaml.maxAliases } : {});
}
