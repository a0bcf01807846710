// What every benchmark reports the same way: the spread of repeated samples, a plain-text table,
// and a JSON results file under test/bench/results/ headed by the commit, the versions and the
// machine it was measured on, so numbers from different runs can be compared honestly.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder (where package.json is). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median (mean of the middle two for an even count), minimum and maximum; `values` must not be empty. */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** Prints `lines` under `header` as left-aligned columns, preceded by a blank line. */
export function printTable(header: readonly string[], lines: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  console.log(`\n${format(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const line of lines) console.log(format(line));
}

function git(args: readonly string[]): string {
  const child = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (child.error) throw child.error;
  return child.stdout.trim();
}

/** The installed version of a dependency, from its package.json under node_modules. */
export function packageVersion(name: string): string {
  const json = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return json.version;
}

export interface ResultsHeader {
  benchmark: string;
  timestamp: string;
  commit: string;
  /** Uncommitted changes in the checkout: the numbers are for HEAD plus those. */
  dirty: boolean;
  node: string;
  packages: Record<string, string>;
  machine: {
    os: string;
    arch: string;
    cpu: string;
    cores: number;
    totalMemoryMb: number;
    loadAverage: number[];
  };
}

/** The head of a results file: now, HEAD and whether the checkout is dirty, Node and `packages`' versions, the machine. */
export function resultsHeader(benchmark: string, packages: readonly string[]): ResultsHeader {
  const cpu = cpus();
  return {
    benchmark,
    timestamp: new Date().toISOString(),
    commit: git(['rev-parse', 'HEAD']),
    dirty: git(['status', '--porcelain']) !== '',
    node: process.version,
    packages: Object.fromEntries(packages.map((p) => [p, packageVersion(p)])),
    machine: {
      os: `${type()} ${release()}`,
      arch: arch(),
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
      loadAverage: loadavg(),
    },
  };
}

/**
 * Writes `body` to `test/bench/results/<benchmark>-<timestamp>.json` (fractions rounded to one
 * decimal) and returns the path.
 */
export function writeResults<T extends ResultsHeader>(body: T): string {
  const folder = join(ROOT, 'test/bench/results');
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `${body.benchmark}-${body.timestamp.replace(/[:.]/g, '-')}.json`);
  const rounded = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 10) / 10 : value);
  writeFileSync(path, `${JSON.stringify(body, rounded, 2)}\n`);
  return path;
}

/** Runs `fn` under the V8 CPU profiler and writes the profile to `file`; without a file, just runs it. */
export async function profiled<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!file) return fn();
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`CPU profile: ${file}`);
  }
}

