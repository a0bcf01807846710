// Reads definition files from disk: single files, and folders walked for `.yaml`/`.yml`
// (skipping hidden folders and node_modules). The one place in the language module that
// touches the filesystem.
import { readdir, readFile, stat } from 'node:fs/promises';
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

/** Reads the files under `paths`; each is named relative to `cwd` (absolute when outside it). */
export async function readDefinitionFiles(paths: readonly string[], cwd = process.cwd()): Promise<SourceFile[]> {
  const files = await listDefinitionFiles(paths, cwd);
  const out: SourceFile[] = new Array(files.length);
  // A bounded number of reads at once: all 10,000 together would hold every buffer at the same time.
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const full = files[i] as string;
      const rel = relative(cwd, full);
      out[i] = { path: rel.startsWith('..') ? full : rel, text: await readFile(full, 'utf8') };
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  return out;
}

const READ_CONCURRENCY = 32;
