// Benchmark of `eventops validate`: generates valid repositories of 1,000 and 10,000 files, then
// measures in-process validation and the end-to-end CLI, each run in a fresh child process (wall
// time, peak RSS; one warm-up run excluded), prints a table against the targets and writes JSON.
// `--keep` leaves the generated repositories in the temp folder, for profiling.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatDiagnostic, readDefinitionFiles, validateFiles } from '../../schemas/index.js';
import { printTable as printColumns, resultsHeader, ROOT, spread, writeResults as writeResultsFile } from './bench-results.js';
import { generateRepository, SEED } from './generate-repository.js';

const SIZES = [
  { files: 1_000, repeats: 5 },
  { files: 10_000, repeats: 3 },
] as const;
const TARGET = { filesPerSecond: 2_000, peakRssMb: 300, atFiles: 10_000 } as const;

// ---------------------------------------------------------------------------------------------
// Measurement

interface Sample {
  wallMs: number;
  peakRssMb: number;
  /** In-process only: the two halves of wallMs. */
  readMs?: number;
  validateMs?: number;
}

interface ChildReport {
  files: number;
  definitions: number;
  errors: number;
  warnings: number;
  readMs: number;
  validateMs: number;
  maxRssKb: number;
}

/** Runs in a fresh `node` on the compiled module (dist/), as the CLI does; prints one ChildReport. */
const IN_PROCESS_CHILD = `
const { readDefinitionFiles, validateFiles } = await import(process.argv[1]);
const dir = process.argv[2];
const t0 = performance.now();
const files = await readDefinitionFiles([dir], dir);
const t1 = performance.now();
const r = validateFiles(files);
const t2 = performance.now();
process.stdout.write(JSON.stringify({ files: files.length, definitions: r.definitions.length, errors: r.errors, warnings: r.warnings,
  readMs: t1 - t0, validateMs: t2 - t1, maxRssKb: process.resourceUsage().maxRSS }));
`;

/** Peak RSS of a child: GNU time when present, else an exit hook preloaded into the child. */
const GNU_TIME = '/usr/bin/time';
const RSS_HOOK = `data:text/javascript,${encodeURIComponent("process.on('exit', () => process.stderr.write('\\nmaxrss:' + process.resourceUsage().maxRSS + '\\n'))")}`;
const rssSource = existsSync(GNU_TIME) ? 'gnu-time %M' : 'process.resourceUsage().maxRSS (preloaded exit hook)';

function run(command: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string; wallMs: number } {
  const start = process.hrtime.bigint();
  const child = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (child.error) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, wallMs };
}

function inProcessSample(dir: string): Sample {
  const entry = pathToFileURL(join(ROOT, 'dist/schemas/index.js')).href;
  const child = run(process.execPath, ['--input-type=module', '-e', IN_PROCESS_CHILD, entry, dir]);
  if (child.status !== 0) throw new Error(`in-process child failed (exit ${child.status}):\n${child.stderr}`);
  const report = JSON.parse(child.stdout) as ChildReport;
  if (report.errors > 0) throw new Error(`the in-process child found ${report.errors} error(s) in ${dir}`);
  return { wallMs: report.readMs + report.validateMs, readMs: report.readMs, validateMs: report.validateMs, peakRssMb: report.maxRssKb / 1024 };
}

function cliSample(dir: string): Sample {
  const cli = [join(ROOT, 'bin/eventops.js'), 'validate', dir];
  const child = existsSync(GNU_TIME)
    ? run(GNU_TIME, ['-f', 'maxrss:%M', process.execPath, ...cli])
    : run(process.execPath, ['--import', RSS_HOOK, ...cli]);
  if (child.status !== 0) throw new Error(`\`eventops validate\` exited ${child.status}:\n${child.stdout.slice(-2000)}${child.stderr.slice(-2000)}`);
  const rss = /maxrss:(\d+)\s*$/.exec(child.stderr);
  if (!rss) throw new Error(`no peak RSS in the CLI's stderr:\n${child.stderr.slice(-2000)}`);
  return { wallMs: child.wallMs, peakRssMb: Number(rss[1]) / 1024 };
}

/** One unmeasured warm-up run (file cache, disk), then `repeats` measured ones, each a fresh process. */
function measure(label: string, repeats: number, sample: () => Sample): Sample[] {
  process.stdout.write(`  ${label}: warm-up ${Math.round(sample().wallMs)}ms (excluded); samples:`);
  const samples: Sample[] = [];
  for (let i = 0; i < repeats; i++) {
    samples.push(sample());
    process.stdout.write(` ${Math.round((samples[i] as Sample).wallMs)}ms`);
  }
  process.stdout.write('\n');
  return samples;
}

// ---------------------------------------------------------------------------------------------
// Verification, report and results

/** Fails loudly when the generated repository is not valid: a benchmark of error paths would mislead. */
async function verify(dir: string): Promise<{ files: number; definitions: number; warnings: number }> {
  const result = validateFiles(await readDefinitionFiles([dir], dir));
  if (result.errors > 0) {
    const shown = result.diagnostics.filter((d) => d.severity === 'error').slice(0, 20);
    throw new Error(`the generated repository has ${result.errors} error(s); first ones:\n${shown.map(formatDiagnostic).join('\n')}`);
  }
  const files = new Set(result.definitions.map((d) => d.file)).size;
  return { files, definitions: result.definitions.length, warnings: result.warnings };
}

interface SizeResult {
  files: number;
  definitions: number;
  warnings: number;
  repeats: number;
  inProcess: Sample[];
  cli: Sample[];
}

interface Row {
  mode: string;
  files: number;
  samples: Sample[];
}

function tableRows(results: readonly SizeResult[]): Row[] {
  return results.flatMap((r) => [
    { mode: 'in-process', files: r.files, samples: r.inProcess },
    { mode: 'cli', files: r.files, samples: r.cli },
  ]);
}

function printTable(rows: readonly Row[]): void {
  const header = ['mode', 'files', 'files/s', 'wall ms median (min–max)', 'peak RSS MB', 'vs 2,000 files/s', 'vs 300 MB', 'verdict'];
  const lines = rows.map((row) => {
    const wall = spread(row.samples.map((s) => s.wallMs));
    const peak = Math.max(...row.samples.map((s) => s.peakRssMb));
    const rate = row.files / (wall.median / 1000);
    const judged = row.files === TARGET.atFiles;
    const verdict = judged
      ? `${rate >= TARGET.filesPerSecond ? 'PASS' : 'MISS'} rate, ${peak < TARGET.peakRssMb ? 'PASS' : 'MISS'} memory`
      : '(targets are for 10,000 files)';
    return [
      row.mode,
      row.files.toLocaleString('en-US'),
      Math.round(rate).toLocaleString('en-US'),
      `${Math.round(wall.median)} (${Math.round(wall.min)}–${Math.round(wall.max)})`,
      peak.toFixed(1),
      `${(rate / TARGET.filesPerSecond).toFixed(2)}×`,
      `${(peak / TARGET.peakRssMb).toFixed(2)}×`,
      verdict,
    ];
  });
  printColumns(header, lines);
}

function writeResults(results: readonly SizeResult[]): string {
  const summary = (samples: readonly Sample[], files: number) => {
    const wall = spread(samples.map((s) => s.wallMs));
    return { wallMs: wall, filesPerSecond: files / (wall.median / 1000), peakRssMb: spread(samples.map((s) => s.peakRssMb)) };
  };
  return writeResultsFile({
    ...resultsHeader('validate', ['yaml', 'ajv', '@marcbachmann/cel-js']),
    method: {
      seed: SEED,
      warmupRuns: 1,
      inProcess: 'readDefinitionFiles + validateFiles from dist/ in a fresh `node` per sample; wall time measured inside the child',
      cli: '`node bin/eventops.js validate DIR` per sample; wall time measured around the child, including Node start-up',
      peakRss: { inProcess: 'process.resourceUsage().maxRSS', cli: rssSource },
    },
    targets: TARGET,
    sizes: results.map((r) => ({
      ...r,
      summary: { inProcess: summary(r.inProcess, r.files), cli: summary(r.cli, r.files) },
    })),
  });
}

async function benchmarkSize(base: string, files: number, repeats: number): Promise<SizeResult> {
  const dir = join(base, `repo-${files}`);
  console.log(`\n${files.toLocaleString('en-US')} files: generating in ${dir}`);
  generateRepository(dir, files);
  const checked = await verify(dir);
  if (checked.files !== files) throw new Error(`expected ${files} files with definitions, found ${checked.files}`);
  console.log(`  valid: ${checked.definitions} definitions, 0 errors, ${checked.warnings} warning(s)`);
  const inProcess = measure(`in-process ×${repeats}`, repeats, () => inProcessSample(dir));
  const cli = measure(`cli ×${repeats}`, repeats, () => cliSample(dir));
  return { files, definitions: checked.definitions, warnings: checked.warnings, repeats, inProcess, cli };
}

async function main(): Promise<void> {
  const only = process.argv.indexOf('--generate');
  if (only >= 0) {
    // `--generate DIR N`: only write a repository of N files, for profiling by hand.
    const [dir, n] = [process.argv[only + 1] as string, Number(process.argv[only + 2])];
    console.log(`wrote ${generateRepository(dir, n)} files to ${dir}`);
    return;
  }
  console.log('building dist/ (npm run build) so the CLI and the in-process child run the current sources');
  if (run('npm', ['run', 'build', '--silent']).status !== 0) throw new Error('npm run build failed');
  const base = mkdtempSync(join(tmpdir(), 'eventops-bench-'));
  try {
    const results: SizeResult[] = [];
    for (const size of SIZES) results.push(await benchmarkSize(base, size.files, size.repeats));
    printTable(tableRows(results));
    console.log(`\npeak RSS: ${rssSource} for the CLI, process.resourceUsage().maxRSS for in-process; each sample a fresh process`);
    console.log(`results: ${writeResults(results)}`);
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept the generated repositories in ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
