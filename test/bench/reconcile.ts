// Benchmark of the reconciler on a git repository of 10,000 definition files served over HTTP by
// `git http-backend`, on PostgreSQL and on the embedded PGlite: the full first sync (fresh
// database, git cache and reconciler, 3 runs), the no-op reconcile (nothing pushed; 1 warm-up
// excluded, 20 runs) and the reconcile after a one-file push (1 warm-up excluded, 5 runs, a new
// commit each; the push itself is not timed). Prints a table against the targets, the step
// timings the reconciler stored, the peak RSS, and writes JSON to test/bench/results/. Raw
// baselines, measured in the same run against the same server (test/bench/baselines.ts): the git
// CLI's `git clone` (checkout included; 1 warm-up, 3 runs) for the full sync and `git ls-remote`
// (1 warm-up, 20 runs) for the no-op, printed with the ratios reconcile time ÷ git time.
// Run: `npx tsx test/bench/reconcile.ts [--files N] [--drivers postgres,pglite]`.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { desc, eq } from 'drizzle-orm';
import { pino } from 'pino';
import { createSecretStore, loadConfig, type SourceConfig } from '../../config/index.js';
import { createReconciler, type ProcessReconciler, type ReconcileResult, type SourceStats } from '../../reconciler/index.js';
import { openDatabase, revisions, type Database } from '../../schemas/database/index.js';
import { startGitServer, type TestRepo } from '../helpers/git-server.js';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/postgres.js';
import { gitCloneMs, gitLsRemoteMs } from './baselines.js';
import { printTable, resultsHeader, ROOT, spread, writeResults, type Spread } from './bench-results.js';
import { SEED } from './generate-repository.js';

const SOURCE = 'bench';
const DRIVERS = ['postgres', 'pglite'] as const;
type Driver = (typeof DRIVERS)[number];
const TARGETS_AT_FILES = 10_000;
const MEASURES = [
  { measure: 'full first sync', key: 'full', warmups: 0, repeats: 3, targetMs: 10_000 },
  { measure: 'no-op reconcile', key: 'noop', warmups: 1, repeats: 20, targetMs: 100 },
  { measure: 'one-file push', key: 'push', warmups: 1, repeats: 5, targetMs: 1_000 },
] as const;
type MeasureKey = (typeof MEASURES)[number]['key'];
/** The file the push phase edits: a pipeline file holding one definition (see generate-repository). */
const PUSHED_FILE = /\/pipelines-2\.yaml$/;

interface Options {
  files: number;
  drivers: Driver[];
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const files = Number(value('--files') ?? TARGETS_AT_FILES);
  if (!Number.isInteger(files) || files < 20) throw new Error('--files needs a whole number of at least 20');
  const drivers = (value('--drivers') ?? DRIVERS.join(',')).split(',');
  for (const d of drivers) if (!DRIVERS.includes(d as Driver)) throw new Error(`--drivers: unknown driver '${d}' (postgres, pglite)`);
  return { files, drivers: drivers as Driver[] };
}

// ---------------------------------------------------------------------------------------------
// The repository

/** Generates in a child process, so the generator's memory does not count in this process' peak RSS. */
function generateInChild(dir: string, files: number): void {
  const generator = pathToFileURL(join(ROOT, 'test/bench/generate-repository.ts')).href;
  const script = `const { generateRepository } = await import(process.argv[1]); generateRepository(process.argv[2], Number(process.argv[3]));`;
  // Only the module-loader flags this process runs with (tsx's), not e.g. --cpu-prof meant for it.
  const loader: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i] as string;
    if (/^--(require|import|loader|experimental-loader)=/.test(arg)) loader.push(arg);
    else if (/^(--require|-r|--import|--loader|--experimental-loader)$/.test(arg)) loader.push(arg, process.execArgv[++i] as string);
  }
  const child = spawnSync(process.execPath, [...loader, '--input-type=module', '-e', script, generator, dir, String(files)], { cwd: ROOT, encoding: 'utf8' });
  if (child.error) throw child.error;
  if (child.status !== 0) throw new Error(`generating the repository failed (exit ${child.status}):\n${child.stderr}`);
}

/** The metadata description of the pushed pipeline (indented two spaces: not an input's description). */
const DESCRIPTION = /^ {2}description: (.*)$/m;

/** Changes the pushed file's description, commits and pushes; returns the new commit. Not timed. */
async function pushOneFile(repo: TestRepo, work: string, file: string, n: number): Promise<string> {
  const path = join(work, file);
  const text = await readFile(path, 'utf8');
  if (!DESCRIPTION.test(text)) throw new Error(`${file} has no metadata description to change`);
  await writeFile(path, text.replace(DESCRIPTION, (_line, was: string) => `  description: ${was.replace(/ \(push \d+\)$/, '')} (push ${n})`));
  return repo.commit(`bench: push ${n}`);
}

// ---------------------------------------------------------------------------------------------
// One database with one reconciler on it

interface Harness {
  database: Database;
  reconciler: ProcessReconciler;
  /** Milliseconds to open the database (with migrations) and start the reconciler: reported, not in the measure. */
  setupMs: number;
  dispose(): Promise<void>;
}

async function openHarness(driver: Driver, source: SourceConfig): Promise<Harness> {
  const started = performance.now();
  const dataDir = await mkdtemp(join(tmpdir(), `eventops-bench-${driver}-`));
  let pg: TestDatabase | undefined;
  let database: Database | undefined;
  let reconciler: ProcessReconciler | undefined;
  const dispose = async () => {
    await reconciler?.close();
    await database?.close();
    await pg?.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    if (driver === 'postgres') {
      pg = await createTestDatabase('eventops_bench');
      database = await openDatabase({ url: pg.url, dataDir });
    } else {
      database = await openDatabase({ dataDir, inMemory: false });
    }
    reconciler = createReconciler({
      database,
      sources: [source],
      dataDir,
      secrets: createSecretStore({ env: {} }),
      logger: pino({ level: 'silent' }),
      schedule: false,
    });
    await reconciler.start();
    return { database, reconciler, setupMs: performance.now() - started, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

interface StoredRevision {
  commit: string;
  status: string;
  fileCount: number;
  definitionCount: number;
  errorCount: number;
  warningCount: number;
  timings: Record<string, number>;
}

async function latestRevision(database: Database): Promise<StoredRevision> {
  const [row] = await database.db
    .select({
      commit: revisions.commit,
      status: revisions.status,
      fileCount: revisions.fileCount,
      definitionCount: revisions.definitionCount,
      errorCount: revisions.errorCount,
      warningCount: revisions.warningCount,
      timings: revisions.timings,
    })
    .from(revisions)
    .where(eq(revisions.source, SOURCE))
    .orderBy(desc(revisions.id))
    .limit(1);
  if (!row) throw new Error('no revision row was stored');
  return row;
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Sample {
  /** From calling requestReconcile to its result. */
  wallMs: number;
  /** The reconciler's own duration (inside the lock). */
  durationMs: number;
  outcome: ReconcileResult['outcome'];
  /** Step timings stored with the revision (full sync and push only). */
  timings?: Record<string, number>;
  /** Full sync only: opening the fresh database (with migrations) and starting the reconciler. */
  setupMs?: number;
}

/**
 * Lets the event loop turn before a timed request. The git server runs in this process, and
 * parsing, validating and PGlite (whose queries resolve without I/O) can hold the loop past the
 * server's 5 s keep-alive: the server's expired idle timer has then not run yet, and a request
 * written at once goes out on a socket the server closes unread (ECONNRESET). A webhook or
 * timer would also start a reconcile from a fresh loop turn.
 */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

async function timedReconcile(reconciler: ProcessReconciler): Promise<{ result: ReconcileResult; wallMs: number }> {
  await settle();
  const started = performance.now();
  const result = await reconciler.requestReconcile(SOURCE);
  return { result, wallMs: performance.now() - started };
}

function expectOutcome(result: ReconcileResult, outcome: ReconcileResult['outcome'], what: string): void {
  if (result.outcome === outcome) return;
  const conditions = result.conditions.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`).join('; ');
  throw new Error(`${what}: expected '${outcome}', got '${result.outcome}' (${conditions})`);
}

function expectEqual(actual: number | string, expected: number | string, what: string): void {
  if (actual !== expected) throw new Error(`${what}: expected ${expected}, got ${actual}`);
}

const log = (text: string) => process.stdout.write(text);

interface DriverResult {
  driver: Driver;
  samples: Record<MeasureKey, Sample[]>;
  /** process.resourceUsage().maxRSS after this driver's phases (cumulative over the process). */
  peakRssMbAfter: number;
  definitions: number;
  warnings: number;
}

interface Fixture {
  repo: TestRepo;
  work: string;
  pushedFile: string;
  head: string;
  files: number;
  source: SourceConfig;
  pushes: number;
}

async function fullSync(fixture: Fixture, harness: Harness): Promise<Sample & { revision: StoredRevision }> {
  const { result, wallMs } = await timedReconcile(harness.reconciler);
  expectOutcome(result, 'applied', 'full first sync');
  expectEqual(result.revision ?? '', fixture.head, 'full first sync: revision');
  const stats = harness.reconciler.stats(SOURCE);
  expectEqual(stats.filesParsed, fixture.files, 'full first sync: files parsed');
  const revision = await latestRevision(harness.database);
  expectEqual(revision.fileCount, fixture.files, 'full first sync: stored file count');
  expectEqual(revision.errorCount, 0, 'full first sync: errors');
  expectEqual(stats.definitionsInserted, revision.definitionCount, 'full first sync: definitions inserted');
  return { wallMs, durationMs: result.durationMs, outcome: result.outcome, timings: revision.timings, setupMs: harness.setupMs, revision };
}

async function noop(harness: Harness): Promise<Sample> {
  const before: SourceStats = harness.reconciler.stats(SOURCE);
  const { result, wallMs } = await timedReconcile(harness.reconciler);
  expectOutcome(result, 'unchanged', 'no-op reconcile');
  const after = harness.reconciler.stats(SOURCE);
  expectEqual(after.filesParsed, before.filesParsed, 'no-op reconcile: files parsed');
  expectEqual(after.revisionsWritten, before.revisionsWritten, 'no-op reconcile: revisions written');
  return { wallMs, durationMs: result.durationMs, outcome: result.outcome };
}

async function push(fixture: Fixture, harness: Harness): Promise<Sample> {
  const commit = await pushOneFile(fixture.repo, fixture.work, fixture.pushedFile, ++fixture.pushes);
  fixture.head = commit;
  const before = harness.reconciler.stats(SOURCE);
  const { result, wallMs } = await timedReconcile(harness.reconciler);
  expectOutcome(result, 'applied', 'one-file push');
  expectEqual(result.revision ?? '', commit, 'one-file push: revision');
  const after = harness.reconciler.stats(SOURCE);
  expectEqual(after.filesParsed - before.filesParsed, 1, 'one-file push: files parsed');
  expectEqual(after.definitionsInserted - before.definitionsInserted, 1, 'one-file push: definitions inserted');
  const revision = await latestRevision(harness.database);
  expectEqual(revision.commit, commit, 'one-file push: stored revision');
  return { wallMs, durationMs: result.durationMs, outcome: result.outcome, timings: revision.timings };
}

/** `warmups` unmeasured runs, then `repeats` measured ones; prints each as it goes. */
async function repeat(label: string, warmups: number, repeats: number, sample: () => Promise<Sample>): Promise<Sample[]> {
  log(`  ${label}:`);
  for (let i = 0; i < warmups; i++) log(` warm-up ${Math.round((await sample()).wallMs)}ms (excluded);`);
  log(' samples:');
  const samples: Sample[] = [];
  for (let i = 0; i < repeats; i++) {
    const s = await sample();
    samples.push(s);
    log(` ${Math.round(s.wallMs)}ms`);
  }
  log('\n');
  return samples;
}

const STEP_ORDER = ['resolve', 'unchanged', 'fetch', 'parse', 'validate'];

/** `resolve 12, fetch 3400, …, rest 900`: rest is the reconciler's duration minus the stored steps (store, status). */
function formatTimings(sample: Sample): string {
  const timings = sample.timings ?? {};
  const names = [...STEP_ORDER.filter((n) => n in timings), ...Object.keys(timings).filter((n) => !STEP_ORDER.includes(n))];
  const stepsMs = names.reduce((sum, n) => sum + (timings[n] ?? 0), 0);
  return `${names.map((n) => `${n} ${timings[n]}`).join(', ')}, store+status ${sample.durationMs - stepsMs} (ms)`;
}

async function benchmarkDriver(driver: Driver, fixture: Fixture): Promise<DriverResult> {
  console.log(`\n${driver}`);
  const full: (Sample & { revision: StoredRevision })[] = [];
  let kept: Harness | undefined;
  try {
    const spec = MEASURES[0];
    log(`  ${spec.measure} ×${spec.repeats} (each on a fresh database, git cache and reconciler):\n`);
    for (let i = 0; i < spec.repeats; i++) {
      const harness = await openHarness(driver, fixture.source);
      try {
        const s = await fullSync(fixture, harness);
        full.push(s);
        log(`    run ${i + 1}: ${Math.round(s.wallMs)}ms (setup ${Math.round(s.setupMs ?? 0)}ms not counted) — ${formatTimings(s)}\n`);
      } finally {
        // The last run's reconciler goes on to the no-op and push measures.
        if (i === spec.repeats - 1) kept = harness;
        else await harness.dispose();
      }
    }
    const harness = kept as Harness;
    const noopSpec = MEASURES[1];
    const noops = await repeat(`${noopSpec.measure} ×${noopSpec.repeats}`, noopSpec.warmups, noopSpec.repeats, () => noop(harness));
    const pushSpec = MEASURES[2];
    const pushes = await repeat(`${pushSpec.measure} ×${pushSpec.repeats}`, pushSpec.warmups, pushSpec.repeats, () => push(fixture, harness));
    for (const [i, s] of pushes.entries()) log(`    push ${i + 1}: ${formatTimings(s)}\n`);
    const last = full[full.length - 1] as (typeof full)[number];
    return {
      driver,
      samples: { full: full.map(({ revision: _r, ...s }) => s), noop: noops, push: pushes },
      peakRssMbAfter: process.resourceUsage().maxRSS / 1024,
      definitions: last.revision.definitionCount,
      warnings: last.revision.warningCount,
    };
  } finally {
    await kept?.dispose();
  }
}

interface GitBaseline {
  cloneMs: Spread;
  lsRemoteMs: Spread;
}

/** The git CLI on the same repository and server: clone (1 warm-up, 3 runs) and ls-remote (1 warm-up, 20 runs). */
async function gitBaseline(url: string): Promise<GitBaseline> {
  await gitCloneMs(url);
  const clones: number[] = [];
  for (let i = 0; i < 3; i++) clones.push(await gitCloneMs(url));
  await gitLsRemoteMs(url);
  const lists: number[] = [];
  for (let i = 0; i < 20; i++) lists.push(await gitLsRemoteMs(url));
  log(`  git clone ×3: ${clones.map((ms) => `${Math.round(ms)}ms`).join(' ')}; git ls-remote ×20: median ${Math.round(spread(lists).median)}ms\n`);
  return { cloneMs: spread(clones), lsRemoteMs: spread(lists) };
}

/** Reconcile median ÷ git median, per driver: full sync ÷ clone, no-op ÷ ls-remote. */
function gitRatios(results: readonly DriverResult[], git: GitBaseline): Record<string, { fullToClone: string; noopToLsRemote: string }> {
  return Object.fromEntries(
    results.map((r) => [
      r.driver,
      {
        fullToClone: (spread(r.samples.full.map((s) => s.wallMs)).median / git.cloneMs.median).toPrecision(3),
        noopToLsRemote: (spread(r.samples.noop.map((s) => s.wallMs)).median / git.lsRemoteMs.median).toPrecision(3),
      },
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Report

function verdict(files: number, median: number, targetMs: number): string {
  if (files !== TARGETS_AT_FILES) return `n/a (targets are for ${TARGETS_AT_FILES.toLocaleString('en-US')} files)`;
  return median < targetMs ? 'PASS' : 'FAIL';
}

function report(files: number, results: readonly DriverResult[], git: GitBaseline): void {
  const header = ['measure', 'driver', 'median ms', 'min–max ms', 'runs', 'target', 'verdict'];
  const lines = MEASURES.flatMap((m) =>
    results.map((r) => {
      const wall = spread(r.samples[m.key].map((s) => s.wallMs));
      return [
        m.measure,
        r.driver,
        String(Math.round(wall.median)),
        `${Math.round(wall.min)}–${Math.round(wall.max)}`,
        m.warmups > 0 ? `${m.repeats} (+${m.warmups} warm-up)` : String(m.repeats),
        `< ${m.targetMs.toLocaleString('en-US')} ms`,
        verdict(files, wall.median, m.targetMs),
      ];
    }),
  );
  printTable(header, lines);
  const ratios = gitRatios(results, git);
  printTable(
    ['raw baseline (git CLI, same server)', 'median ms', 'min–max ms', ...results.map((r) => `ratio ${r.driver}`)],
    [
      ['git clone (checkout included) vs full first sync', String(Math.round(git.cloneMs.median)), `${Math.round(git.cloneMs.min)}–${Math.round(git.cloneMs.max)}`, ...results.map((r) => ratios[r.driver]?.fullToClone ?? '')],
      ['git ls-remote vs no-op reconcile', String(Math.round(git.lsRemoteMs.median)), `${Math.round(git.lsRemoteMs.min)}–${Math.round(git.lsRemoteMs.max)}`, ...results.map((r) => ratios[r.driver]?.noopToLsRemote ?? '')],
    ],
  );
  console.log(`\npeak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (${results.map((r) => `after ${r.driver}: ${r.peakRssMbAfter.toFixed(0)} MB`).join(', ')}; cumulative, the repository was generated in a child process)`);
}

function saveResults(options: Options, fixture: Fixture, results: readonly DriverResult[], git: GitBaseline, generateMs: number, commitMs: number): string {
  const summary = (samples: readonly Sample[]): { wallMs: Spread; durationMs: Spread } => ({
    wallMs: spread(samples.map((s) => s.wallMs)),
    durationMs: spread(samples.map((s) => s.durationMs)),
  });
  return writeResults({
    ...resultsHeader('reconcile', ['isomorphic-git', 'pg', '@electric-sql/pglite', 'drizzle-orm', 'js-yaml', 'yaml', 'ajv', '@marcbachmann/cel-js']),
    postgres: spawnSync('psql', [serverUrl(), '-Atc', 'show server_version'], { encoding: 'utf8' }).stdout?.trim() || 'unknown',
    git: spawnSync('git', ['--version'], { encoding: 'utf8' }).stdout?.trim() || 'unknown',
    method: {
      seed: SEED,
      files: options.files,
      repository: `generateRepository (test/bench/generate-repository.ts) into the work clone of a test git server (git http-backend over HTTP on 127.0.0.1); generated in ${Math.round(generateMs)} ms, committed and pushed in ${Math.round(commitMs)} ms`,
      wallMs: 'from calling requestReconcile to its result, in this process; durationMs is the reconciler’s own measure inside the source lock',
      full: 'each run: a fresh database (a new PostgreSQL database / a new PGlite folder), a fresh dataDir (git cache) and a fresh reconciler; opening the database and start() are not counted (setupMs)',
      noop: 'after the last full sync, nothing pushed: outcome unchanged and filesParsed unchanged verified',
      push: `the metadata description of one pipeline file (${fixture.pushedFile}) changed, committed and pushed before the clock starts; outcome applied, filesParsed +1 and definitionsInserted +1 verified`,
      peakRss: 'process.resourceUsage().maxRSS of this process (cumulative over the drivers, in the order run)',
    },
    targets: Object.fromEntries(MEASURES.map((m) => [m.key, { ms: m.targetMs, atFiles: TARGETS_AT_FILES }])),
    results: results.map((r) => ({
      ...r,
      summary: Object.fromEntries(MEASURES.map((m) => [m.key, { ...summary(r.samples[m.key]), verdict: verdict(options.files, spread(r.samples[m.key].map((s) => s.wallMs)).median, m.targetMs) }])),
    })),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    gitBaseline: { ...git, ratios: gitRatios(results, git) },
  });
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const server = await startGitServer();
  try {
    const repo = await server.createRepo('definitions');
    const work = await repo.git('rev-parse', '--show-toplevel');
    log(`${options.files.toLocaleString('en-US')} files: generating into ${work} …`);
    let t = performance.now();
    generateInChild(work, options.files);
    const generateMs = performance.now() - t;
    t = performance.now();
    const head = await repo.commit('generated definitions');
    const commitMs = performance.now() - t;
    log(` ${Math.round(generateMs)}ms; committed and pushed ${head.slice(0, 12)} in ${Math.round(commitMs)}ms\n`);
    const pushedFile = (await repo.git('ls-files')).split('\n').find((f) => PUSHED_FILE.test(f));
    if (!pushedFile) throw new Error('the generated repository has no pipelines-2.yaml');
    const source = (loadConfig({ cwd: tmpdir(), env: { EVENTOPS__SOURCES: JSON.stringify([{ name: SOURCE, url: server.url(repo.name) }]) } }).sources[0]) as SourceConfig;
    const fixture: Fixture = { repo, work, pushedFile, head, files: options.files, source, pushes: 0 };
    log('git CLI baseline\n');
    const git = await gitBaseline(server.url(repo.name));
    const results: DriverResult[] = [];
    for (const driver of options.drivers) results.push(await benchmarkDriver(driver, fixture));
    const first = results[0];
    if (first) console.log(`\nrepository: ${options.files.toLocaleString('en-US')} files, ${first.definitions.toLocaleString('en-US')} definitions, 0 errors, ${first.warnings.toLocaleString('en-US')} warnings`);
    report(options.files, results, git);
    console.log(`results: ${saveResults(options, fixture, results, git, generateMs, commitMs)}`);
  } catch (error) {
    // What the git server saw last (status 0: never answered), to tell a server problem from a client one.
    console.error(`last git requests: ${JSON.stringify(server.requests.slice(-6))}`);
    throw error;
  } finally {
    await server.close();
  }
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
