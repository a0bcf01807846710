// How long a git fetch holds up the main thread's event loop: a generated definitions repository
// (generate-repository.ts) served by `git http-backend`, fetched and fully read once in this
// thread (git-cache.ts, what eventops did before issue 20) and once through the worker
// (git-source.ts), with perf_hooks.monitorEventLoopDelay's max and p99 for each.
// Run: npx tsx test/bench/git-fetch-event-loop.ts [files=10000]
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openGitCache } from '../../reconciler/sources/git-cache.js';
import { createGitSource } from '../../reconciler/sources/git-source.js';
import type { DefinitionSource } from '../../reconciler/sources/source.js';
import { startGitServer } from '../helpers/git-server.js';
import { generateRepository } from './generate-repository.js';

const total = Number(process.argv[2] ?? 10_000);
const server = await startGitServer();
const repo = await server.createRepo('bench');
const work = await mkdtemp(join(tmpdir(), 'eventops-bench-gen-'));
generateRepository(work, total);
const files: Record<string, string> = {};
for (const path of await readdir(work, { recursive: true, withFileTypes: true })) {
  if (path.isFile()) files[relative(work, join(path.parentPath, path.name))] = await readFile(join(path.parentPath, path.name), 'utf8');
}
await repo.write(files);
const commit = await repo.commit('generated');

async function measure(label: string, open: (cacheDir: string) => DefinitionSource): Promise<void> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'eventops-bench-cache-'));
  const source = open(cacheDir);
  await source.resolve(); // start-up (a worker loading its modules) is not the fetch
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const started = performance.now();
  const snapshot = await source.snapshot(commit);
  for (const entry of snapshot.entries) await snapshot.read(entry);
  const ms = performance.now() - started;
  delay.disable();
  console.log(JSON.stringify({ label, files: snapshot.entries.length, fetchAndReadMs: Math.round(ms), maxDelayMs: Math.round(delay.max / 1e6), p99DelayMs: Math.round(delay.percentile(99) / 1e6) }));
  await source.close();
  await rm(cacheDir, { recursive: true, force: true });
}

try {
  const url = server.url(repo.name);
  await measure('in the main thread (before)', (cacheDir) => openGitCache({ name: 'bench', url, cacheDir }));
  await measure('in a worker (after)', (cacheDir) => createGitSource({ name: 'bench', url, cacheDir }));
} finally {
  await server.close();
  await rm(work, { recursive: true, force: true });
}
