// Reads definition files from disk: single files, and folders walked for `.yaml`/`.yml`
// (skipping hidden folders and node_modules). The one place in the language module that
// touches the filesystem.
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { SourceFile } from './parse-yaml.js';

export class PathNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`${path}: no such file or folder`);
    this.name = 'PathNotFoundError';
  }
}

const YAML_FILE = /\.ya?ml$/i;

/** Absolute paths of the YAML files under `paths` (files are taken as given), sorted. */
export async function listDefinitionFiles(paths: readonly string[], cwd = process.cwd()): Promise<string[]> {
  const found = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        if (entry.name.startsWith('.') || entry.name === 'node_modules') return;
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile() && YAML_FILE.test(entry.name)) found.add(full);
      }),
    );
  };
  for (const path of paths) {
    const full = resolve(cwd, path);
    const info = await stat(full).catch(() => undefined);
    if (!info) throw new PathNotFoundError(path);
    if (info.isDirectory()) await walk(full);
    else found.add(full);
  }
  return [...found].sort();
}

/**
 * Reads the files under `paths`; each is named relative to `cwd` (absolute when outside it).
 * Reads are synchronous: for thousands of small files that is several times faster than
 * opening each through the promise API, and callers (the CLI, a reconcile step) wait anyway.
 */
export async function readDefinitionFiles(paths: readonly string[], cwd = process.cwd()): Promise<SourceFile[]> {
  const files = await listDefinitionFiles(paths, cwd);
  return files.map((full) => {
    const rel = relative(cwd, full);
    return { path: rel.startsWith('..') ? full : rel, text: readFileSync(full, 'utf8') };
  });
}
