// The reconciler end to end against real servers: a git repository served by `git http-backend`
// over HTTP and a real database — PostgreSQL, then the same cases on the embedded PGlite. Each
// case pushes commits and checks what a user would see in the tables: the active revision, the
// definitions, the stored errors with their positions, the conditions.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, createSecretStore, type SourceConfig } from '../config/index.js';
import { createReconciler, type ProcessReconciler } from '../reconciler/index.js';
import { definitions, openDatabase, revisions, sources, type Database } from '../schemas/database/index.js';
import { closedPortUrl, startGitServer, type GitServer, type TestRepo } from './helpers/git-server.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';

const logger = pino({ level: 'silent' });

const pipeline = (name: string, extra = '') => `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  tasks:
    - name: hello
      type: local
      commands: [ "echo hello from ${name}" ]${extra}
`;
const actuator = `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: local }
spec:
  tags: [local]
  local: {}
`;
const trigger = (target: string) => `apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: on-hello }
spec:
  event: { source: api, type: hello }
  pipelines:
    - name: ${target}
`;

/** A configured git source, as eventops.yaml would give it. */
function gitSource(name: string, url: string, extra: Record<string, unknown> = {}): SourceConfig {
  const config = loadConfig({ cwd: tmpdir(), env: { EVENTOPS__SOURCES: JSON.stringify([{ name, url, ...extra }]) } });
  return config.sources[0] as SourceConfig;
}

for (const driver of ['postgres', 'pglite'] as const) {
  describe(`reconciler on ${driver}`, () => {
    let git: GitServer;
    let pg: TestDatabase | undefined;
    let database: Database;
    let dataDir: string;
    const open: ProcessReconciler[] = [];

    beforeAll(async () => {
      git = await startGitServer({ token: 's3cret-token-value' });
      dataDir = await mkdtemp(join(tmpdir(), 'eventops-reconcile-'));
      if (driver === 'postgres') {
        pg = await createTestDatabase();
        database = await openDatabase({ url: pg.url, dataDir });
      } else {
        database = await openDatabase({ dataDir, inMemory: true });
      }
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((r) => r.close()));
    });
    afterAll(async () => {
      await database.close();
      await pg?.drop();
      await git.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    const reconcilerFor = async (source: SourceConfig, options: { retry?: { initialMs: number; maxMs: number }; schedule?: boolean; db?: Database } = {}) => {
      const reconciler = createReconciler({
        database: options.db ?? database,
        sources: [source],
        dataDir,
        secrets: createSecretStore({ env: { EVENTOPS_SECRET_GIT_TOKEN: 's3cret-token-value', EVENTOPS_SECRET_BAD_TOKEN: 'wrong-token-value' } }),
        logger,
        schedule: options.schedule ?? false,
        ...(options.retry ? { retry: options.retry } : {}),
      });
      open.push(reconciler);
      await reconciler.start();
      return reconciler;
    };

    const activeDefinitions = async (source: string) =>
      database.db
        .select({ kind: definitions.kind, name: definitions.name, file: definitions.file, line: definitions.line, commit: revisions.commit, spec: definitions.spec })
        .from(definitions)
        .innerJoin(revisions, eq(revisions.id, definitions.addedRevisionId))
        .where(and(eq(definitions.source, source), isNull(definitions.removedRevisionId)))
        .orderBy(definitions.kind, definitions.name);

    const sourceRow = async (name: string) => {
      const [row] = await database.db.select().from(sources).where(eq(sources.name, name));
      return row as NonNullable<typeof row>;
    };

    const revisionCount = async (name: string) => {
      const [row] = await database.db.select({ n: sql<number>`count(*)::int` }).from(revisions).where(eq(revisions.source, name));
      return row?.n ?? 0;
    };

    let repo: TestRepo;
    let n = 0;
    const freshRepo = async () => {
      repo = await git.createRepo(`defs-${driver}-${++n}`);
      return repo;
    };

    it('applies a pushed commit, keeps the last good revision when a file is invalid, and prunes deleted files', async () => {
      await freshRepo();
      await repo.write({ 'actuators/local.yaml': actuator, 'pipelines/hello.yaml': pipeline('hello'), 'pipelines/bye.yaml': pipeline('bye'), 'triggers/on-hello.yaml': trigger('hello'), 'README.md': '# not a definition' });
      const first = await repo.commit('first definitions');
      const reconciler = await reconcilerFor(gitSource('ops', git.url(repo.name), { auth: { token: { secret: 'GIT_TOKEN' } } }));

      const applied = await reconciler.requestReconcile('ops');
      expect(applied.outcome).toBe('applied');
      expect(applied.revision).toBe(first);
      expect(applied.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(await activeDefinitions('ops')).toEqual([
        expect.objectContaining({ kind: 'Actuator', name: 'local', file: 'actuators/local.yaml', line: 1, commit: first }),
        expect.objectContaining({ kind: 'Pipeline', name: 'bye', commit: first }),
        expect.objectContaining({ kind: 'Pipeline', name: 'hello', commit: first }),
        expect.objectContaining({ kind: 'Trigger', name: 'on-hello', commit: first }),
      ]);

      // An invalid file: a task needs one that does not exist (line 11, column 15 of the file).
      await repo.write({ 'pipelines/bye.yaml': pipeline('bye', '\n    - name: two\n      type: local\n      needs: [missing]\n      commands: [ "true" ]') });
      const broken = await repo.commit('a broken pipeline');
      const invalid = await reconciler.requestReconcile('ops');
      expect(invalid.outcome).toBe('invalid');
      const row = await sourceRow('ops');
      expect(row.conditions.find((c) => c.type === 'ValidationFailed')).toMatchObject({ status: 'True', reason: 'ValidationFailed' });
      expect(row.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ValidationFailed' });
      const [stored] = await database.db.select().from(revisions).where(and(eq(revisions.source, 'ops'), eq(revisions.commit, broken)));
      expect(stored?.status).toBe('invalid');
      expect(stored?.diagnostics.filter((d) => d.severity === 'error')).toEqual([
        expect.objectContaining({ file: 'pipelines/bye.yaml', line: 11, column: 15, rule: 'needs-unknown', message: expect.stringContaining('missing') }),
      ]);
      // Nothing changed in the active set: still the first commit's definitions.
      expect((await activeDefinitions('ops')).map((d) => d.commit)).toEqual([first, first, first, first]);

      // Fixed, and one file deleted: the pipeline is pruned, the others keep their rows.
      await repo.write({ 'pipelines/bye.yaml': null });
      const third = await repo.commit('drop bye');
      const pruned = await reconciler.requestReconcile('ops');
      expect(pruned.outcome).toBe('applied');
      const after = await activeDefinitions('ops');
      expect(after.map((d) => `${d.kind}/${d.name}@${d.commit.slice(0, 7)}`)).toEqual([`Actuator/local@${first.slice(0, 7)}`, `Pipeline/hello@${first.slice(0, 7)}`, `Trigger/on-hello@${first.slice(0, 7)}`]);
      const retired = await database.db.select().from(definitions).where(and(eq(definitions.source, 'ops'), eq(definitions.name, 'bye')));
      expect(retired).toHaveLength(1);
      expect(retired[0]?.removedRevisionId).not.toBeNull();
      expect((await sourceRow('ops')).lastRevision).toBe(third);
      expect((await sourceRow('ops')).conditions.map((c) => c.type)).toEqual(['Ready']);
    });

    it('does no parse and no write for the same revision, and parses only the changed file of a push', async () => {
      await freshRepo();
      const files: Record<string, string> = { 'actuators/local.yaml': actuator };
      for (let i = 0; i < 20; i++) files[`pipelines/p${i}.yaml`] = pipeline(`p${i}`);
      await repo.write(files);
      await repo.commit('twenty pipelines');
      const reconciler = await reconcilerFor(gitSource('same', git.url(repo.name), { auth: { token: { secret: 'GIT_TOKEN' } } }));
      expect((await reconciler.requestReconcile('same')).outcome).toBe('applied');
      expect(reconciler.stats('same').filesParsed).toBe(21);

      const before = { row: await sourceRow('same'), revisions: await revisionCount('same'), stats: reconciler.stats('same') };
      const again = await reconciler.requestReconcile('same');
      expect(again.outcome).toBe('unchanged');
      expect(reconciler.stats('same').filesParsed).toBe(before.stats.filesParsed);
      expect(reconciler.stats('same').revisionsWritten).toBe(before.stats.revisionsWritten);
      expect(await revisionCount('same')).toBe(before.revisions);
      expect((await sourceRow('same')).updatedAt).toEqual(before.row.updatedAt);

      await repo.write({ 'pipelines/p7.yaml': pipeline('p7', '\n      timeout: 5m') });
      await repo.commit('one file');
      expect((await reconciler.requestReconcile('same')).outcome).toBe('applied');
      expect(reconciler.stats('same').filesParsed).toBe(22);
      expect(reconciler.stats('same').definitionsInserted).toBe(22);
      const p7 = (await activeDefinitions('same')).find((d) => d.name === 'p7');
      expect(p7?.spec).toMatchObject({ tasks: [{ name: 'hello', timeout: '5m' }] });
    });

    it('stores specs exactly as written: quotes, backslashes, unicode, empty values', async () => {
      await freshRepo();
      const tricky = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: tricky, labels: { team: "ünïcødé ✓" } }
spec:
  tasks:
    - name: quote
      type: local
      commands:
        - 'echo "a \\"quoted\\" {x,y} \\\\ path" | tr -d "\\n"'
        - "printf '%s\\t%s' 日本 '{}'"
      env: { EMPTY: "", BRACES: "{1,2}", COMMA: "a,b" }
`;
      await repo.write({ 'pipelines/tricky.yaml': tricky });
      await repo.commit('tricky');
      const reconciler = await reconcilerFor(gitSource('tricky', git.url(repo.name), { auth: { token: { secret: 'GIT_TOKEN' } } }));
      expect((await reconciler.requestReconcile('tricky')).outcome).toBe('applied');
      const { parse } = await import('yaml');
      const written = parse(tricky) as { metadata: unknown; spec: unknown };
      const [row] = await database.db.select().from(definitions).where(eq(definitions.source, 'tricky'));
      expect(row?.spec).toEqual(written.spec);
      expect(row?.metadata).toEqual(written.metadata);
    });

    it('applies again at the same revision when the source configuration changes (dir)', async () => {
      await freshRepo();
      await repo.write({ 'team-a/pipelines/a.yaml': pipeline('a'), 'team-b/pipelines/b.yaml': pipeline('b') });
      await repo.commit('two teams');
      const a = await reconcilerFor(gitSource('teams', git.url(repo.name), { dir: 'team-a', auth: { token: { secret: 'GIT_TOKEN' } } }));
      expect((await a.requestReconcile('teams')).outcome).toBe('applied');
      expect((await activeDefinitions('teams')).map((d) => `${d.file}`)).toEqual(['team-a/pipelines/a.yaml']);
      await a.close();
      const b = await reconcilerFor(gitSource('teams', git.url(repo.name), { dir: 'team-b', auth: { token: { secret: 'GIT_TOKEN' } } }));
      expect((await b.requestReconcile('teams')).outcome).toBe('applied');
      expect((await activeDefinitions('teams')).map((d) => d.name)).toEqual(['b']);
    });

    it('reports a wrong token as FetchFailed and Stalled, with no secret in anything stored', async () => {
      await freshRepo();
      await repo.write({ 'pipelines/hello.yaml': pipeline('hello') });
      await repo.commit('one');
      const url = git.url(repo.name).replace('http://', 'http://someone:url-password-value@');
      const reconciler = await reconcilerFor(gitSource('wrong', url, { auth: { token: { secret: 'BAD_TOKEN' } } }));
      const result = await reconciler.requestReconcile('wrong');
      expect(result.outcome).toBe('failed');
      const row = await sourceRow('wrong');
      expect(row.conditions.find((c) => c.type === 'FetchFailed')).toMatchObject({ status: 'True', reason: 'AuthenticationFailed' });
      expect(row.conditions.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True' });
      expect(row.history[0]).toMatchObject({ outcome: 'failed', reason: 'AuthenticationFailed' });
      const everything = JSON.stringify(row) + JSON.stringify(result);
      expect(everything).not.toContain('wrong-token-value');
      expect(everything).not.toContain('url-password-value');
      expect(row.location).toBe(git.url(repo.name));
    });

    it('reports a missing secret without trying to fetch', async () => {
      await freshRepo();
      const reconciler = await reconcilerFor(gitSource('nosecret', git.url(repo.name), { auth: { token: { secret: 'NOT_SET' } } }));
      const result = await reconciler.requestReconcile('nosecret');
      expect(result.outcome).toBe('failed');
      expect(result.conditions.find((c) => c.type === 'FetchFailed')).toMatchObject({ reason: 'SecretNotFound', message: expect.stringContaining('EVENTOPS_SECRET_NOT_SET') });
    });

    it('retries an unreachable host with growing delays', async () => {
      const url = `${await closedPortUrl()}/nothing.git`;
      const reconciler = await reconcilerFor(gitSource('down', url), { schedule: true, retry: { initialMs: 100, maxMs: 1600 } });
      const deadline = Date.now() + 10_000;
      while (reconciler.stats('down').reconciles < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const row = await sourceRow('down');
      expect(row.conditions.find((c) => c.type === 'FetchFailed')).toMatchObject({ status: 'True', reason: 'Unreachable' });
      // Transient: not stalled, retried. History is newest first.
      expect(row.conditions.find((c) => c.type === 'Stalled')).toBeUndefined();
      const times = row.history.map((h) => Date.parse(h.at)).reverse();
      expect(times.length).toBeGreaterThanOrEqual(5);
      const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
      // ~100, ~200, ~400, ~800 ms (±10% jitter, plus the attempt itself).
      expect(gaps[0]).toBeGreaterThanOrEqual(80);
      expect(gaps[3]).toBeGreaterThan((gaps[0] as number) * 4);
    });

    if (driver === 'postgres') {
      it('keeps the source Reconciling (ProgressingWithRetry) when the database fails mid-apply, and recovers', async () => {
        await freshRepo();
        await repo.write({ 'pipelines/a.yaml': pipeline('a') });
        await repo.commit('one');
        const reconciler = await reconcilerFor(gitSource('flaky', git.url(repo.name), { auth: { token: { secret: 'GIT_TOKEN' } } }));
        await database.db.execute(sql`create function refuse_definitions() returns trigger language plpgsql as $$ begin raise exception 'disk full (test)'; end $$`);
        await database.db.execute(sql`create trigger refuse before insert on definitions for each row execute function refuse_definitions()`);
        try {
          const failed = await reconciler.requestReconcile('flaky');
          expect(failed.outcome).toBe('failed');
          expect(failed.conditions.find((c) => c.type === 'Reconciling')).toMatchObject({ status: 'True', reason: 'ProgressingWithRetry', message: expect.stringContaining('disk full (test)') });
          expect(failed.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ProgressingWithRetry' });
          expect(failed.conditions.find((c) => c.type === 'FetchFailed')).toBeUndefined();
          // The transaction rolled back: no revision, no definitions.
          expect(await revisionCount('flaky')).toBe(0);
          expect(await activeDefinitions('flaky')).toEqual([]);
        } finally {
          await database.db.execute(sql`drop trigger refuse on definitions`);
          await database.db.execute(sql`drop function refuse_definitions()`);
        }
        const recovered = await reconciler.requestReconcile('flaky');
        expect(recovered.outcome).toBe('applied');
        expect(recovered.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=True']);
      });

      it('lets one of two reconcilers (two processes on one database) apply a revision', async () => {
        await freshRepo();
        const files: Record<string, string> = {};
        for (let i = 0; i < 50; i++) files[`pipelines/p${i}.yaml`] = pipeline(`p${i}`);
        await repo.write(files);
        await repo.commit('fifty');
        const second = await openDatabase({ url: (pg as TestDatabase).url, dataDir });
        try {
          const config = gitSource('shared', git.url(repo.name), { auth: { token: { secret: 'GIT_TOKEN' } } });
          const one = await reconcilerFor(config);
          const two = await reconcilerFor(config, { db: second });
          const results = await Promise.all([one.requestReconcile('shared'), two.requestReconcile('shared')]);
          const outcomes = results.map((r) => r.outcome).sort();
          expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
          expect(['locked', 'unchanged']).toContain(outcomes.find((o) => o !== 'applied'));
          expect(await revisionCount('shared')).toBe(1);
          expect(await activeDefinitions('shared')).toHaveLength(50);
          await two.close();
        } finally {
          await second.close();
        }
      });
    }

    it('applies a local folder when it changes, without being asked', async () => {
      const folder = await mkdtemp(join(tmpdir(), 'eventops-local-'));
      try {
        await mkdir(join(folder, 'pipelines'));
        await writeFile(join(folder, 'pipelines', 'one.yaml'), pipeline('one'));
        const config = loadConfig({ cwd: folder, env: { EVENTOPS__SOURCES: JSON.stringify([{ name: 'folder', path: '.' }]) } }).sources[0] as SourceConfig;
        const reconciler = await reconcilerFor(config, { schedule: true });
        const waitFor = async (check: () => Promise<boolean>) => {
          const deadline = Date.now() + 10_000;
          while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          return check();
        };
        expect(await waitFor(async () => (await activeDefinitions('folder')).length === 1)).toBe(true);
        await writeFile(join(folder, 'pipelines', 'two.yaml'), pipeline('two'));
        expect(await waitFor(async () => (await activeDefinitions('folder')).length === 2)).toBe(true);
        const row = await sourceRow('folder');
        expect(row.lastRevision).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(reconciler.stats('folder').filesParsed).toBe(2);
      } finally {
        await rm(folder, { recursive: true, force: true });
      }
    });
  });
}
