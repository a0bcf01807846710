// A running HTTP API over a real, seeded PostgreSQL database, for the tests of the API and of
// the CLI commands that call it, with an admin token and a read-only one. The reconciler is a recording stand-in (the real one needs
// git and folders; its own tests cover it): it answers like the real one and remembers calls.
import { mkdtemp, rm } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { definitions, openDatabase, revisions, sources } from '../../schemas/database/index.js';
import type { Condition, Database, Db } from '../../schemas/database/index.js';
import type { ReconcileResult, Reconciler } from '../../reconciler/index.js';
import { UnknownSourceError } from '../../reconciler/index.js';
import { createApp, createToken, startHttpServer } from '../../webhooks/index.js';
import { createTestDatabase } from './postgres.js';

export const COMMITS = {
  first: '1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5',
  active: '9b2e7f00c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6',
  invalid: '3c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39',
  local: 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef',
} as const;

const READY_TRUE: Condition = { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'revision sha256:5f70bf18a086 applied: 1 definition', lastTransitionTime: '2025-05-01T08:00:00.000Z' };

export interface SeededIds {
  first: number;
  active: number;
  invalid: number;
  local: number;
}

/**
 * Three sources: `ops` (git) with an applied revision, an older one whose definition `old` the
 * active one removed, and a newer invalid one; `local` (a folder), ready; `fresh`, never reconciled.
 */
export async function seedSources(db: Db): Promise<SeededIds> {
  await db.insert(sources).values([
    {
      name: 'ops',
      type: 'git',
      location: 'https://github.com/acme/ops-defs.git',
      ref: 'main',
      dir: 'eventops/',
      lastAttemptAt: new Date('2025-05-01T10:02:00Z'),
      conditions: [
        { type: 'Ready', status: 'False', reason: 'ValidationFailed', message: `revision 3c1f0e9d8c7b has 1 invalid file; revision 9b2e7f00c1d2 stays active`, lastTransitionTime: '2025-05-01T10:02:00.000Z' },
        { type: 'ValidationFailed', status: 'True', reason: 'ValidationFailed', message: '1 error in pipelines/build.yaml', lastTransitionTime: '2025-05-01T10:02:00.000Z' },
      ],
      history: [
        { at: '2025-05-01T10:02:00.000Z', revision: COMMITS.invalid, outcome: 'invalid', reason: 'ValidationFailed', message: '1 error in pipelines/build.yaml', durationMs: 41 },
        { at: '2025-05-01T10:00:00.000Z', revision: COMMITS.active, outcome: 'applied', reason: 'Succeeded', message: 'applied 4 definitions', durationMs: 143 },
      ],
    },
    { name: 'local', type: 'local', location: '/srv/eventops-defs', lastAttemptAt: new Date('2025-05-01T08:00:00Z'), conditions: [READY_TRUE] },
    { name: 'fresh', type: 'git', location: 'https://github.com/acme/fresh.git', ref: 'main' },
  ]);
  const [first, active, invalid, local] = await db
    .insert(revisions)
    .values([
      { source: 'ops', commit: COMMITS.first, configHash: 'h1', status: 'applied', fileCount: 3, definitionCount: 4, createdAt: new Date('2025-05-01T09:00:00Z') },
      {
        source: 'ops',
        commit: COMMITS.active,
        configHash: 'h1',
        status: 'applied',
        fileCount: 4,
        definitionCount: 4,
        warningCount: 1,
        timings: { fetch: 120, parse: 8, apply: 15 },
        diagnostics: [{ file: 'triggers/push.yaml', line: 3, column: 1, severity: 'warning', rule: 'legacy-format', message: 'converted from the original eventops format' }],
        createdAt: new Date('2025-05-01T10:00:00Z'),
      },
      {
        source: 'ops',
        commit: COMMITS.invalid,
        configHash: 'h1',
        status: 'invalid',
        fileCount: 4,
        definitionCount: 4,
        errorCount: 1,
        warningCount: 1,
        diagnostics: [
          { file: 'pipelines/build.yaml', line: 12, column: 7, severity: 'error', rule: 'unknown-field', message: 'unknown field "comands" (did you mean "commands"?)' },
          { file: 'triggers/push.yaml', line: 3, column: 1, severity: 'warning', rule: 'legacy-format', message: 'converted from the original eventops format' },
        ],
        createdAt: new Date('2025-05-01T10:02:00Z'),
      },
      { source: 'local', commit: COMMITS.local, configHash: 'h2', status: 'applied', fileCount: 1, definitionCount: 1, createdAt: new Date('2025-05-01T08:00:00Z') },
    ])
    .returning({ id: revisions.id });
  if (!first || !active || !invalid || !local) throw new Error('seeding revisions returned too few rows');
  const ids = { first: first.id, active: active.id, invalid: invalid.id, local: local.id };
  await db.update(sources).set({ activeRevisionId: ids.active, lastRevision: COMMITS.invalid }).where(eq(sources.name, 'ops'));
  await db.update(sources).set({ activeRevisionId: ids.local, lastRevision: COMMITS.local }).where(eq(sources.name, 'local'));
  const definition = (source: string, kind: string, name: string, file: string, line: number, added: number, extra: Partial<typeof definitions.$inferInsert> = {}) => ({
    source,
    kind,
    name,
    file,
    line,
    column: 1,
    metadata: { name },
    spec: { example: `${kind}/${name}` },
    contentHash: `${source}/${kind}/${name}`,
    addedRevisionId: added,
    ...extra,
  });
  await db.insert(definitions).values([
    definition('ops', 'Actuator', 'here', 'actuators.yaml', 1, ids.first),
    definition('ops', 'Pipeline', 'build', 'pipelines/build.yaml', 1, ids.first),
    definition('ops', 'Pipeline', 'old', 'pipelines/old.yaml', 1, ids.first, { removedRevisionId: ids.active }),
    definition('ops', 'Pipeline', 'deploy', 'pipelines/deploy.yaml', 1, ids.active),
    definition('ops', 'Trigger', 'on-push', 'triggers/push.yaml', 4, ids.first, { legacy: 'triggerDefinition' }),
    definition('local', 'Event', 'events/push.yaml#1', 'events/push.yaml', 1, ids.local, { metadata: {} }),
  ]);
  return ids;
}

/** Records every requestReconcile; `next` decides how each call ends (default: applied at once). */
export class RecordingReconciler implements Pick<Reconciler, 'requestReconcile' | 'sourceNames'> {
  readonly sourceNames: readonly string[] = ['ops', 'local', 'fresh'];
  readonly calls: string[] = [];
  next: (source: string) => Promise<ReconcileResult> = async (source) => ({
    source,
    outcome: 'applied',
    revision: COMMITS.active,
    conditions: [{ ...READY_TRUE, message: 'revision 9b2e7f00c1d2 applied: 4 definitions' }],
    durationMs: 12,
  });

  requestReconcile(source: string): Promise<ReconcileResult> {
    this.calls.push(source);
    if (!this.sourceNames.includes(source)) return Promise.reject(new UnknownSourceError(source));
    return this.next(source);
  }
}

/** Tokens the fixture made: `admin` (scope admin) and `read` (scope read). */
export interface FixtureTokens {
  admin: string;
  read: string;
}

/** `{ authorization: 'Bearer <token>' }`, to spread into fetch headers. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

export interface ApiFixture {
  url: string;
  database: Database;
  ids: SeededIds;
  tokens: FixtureTokens;
  reconciler: RecordingReconciler;
  /** What the app reported through `reportError`. */
  reported: Array<{ error: unknown; context: string }>;
  close(): Promise<void>;
}

/** A seeded database and the app on 127.0.0.1, a free port. Call close() in afterAll. */
export async function startApiFixture(): Promise<ApiFixture> {
  const test = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'eventops-api-'));
  const database = await openDatabase({ url: test.url, dataDir });
  const ids = await seedSources(database.db);
  const tokens: FixtureTokens = {
    admin: await createToken(database.db, { name: 'admin', scopes: ['admin'] }),
    read: await createToken(database.db, { name: 'reader', scopes: ['read'] }),
  };
  const reconciler = new RecordingReconciler();
  const reported: ApiFixture['reported'] = [];
  const app = createApp({ db: database.db, reconciler, version: '0.0.0-test', reportError: (error, context) => reported.push({ error, context }) });
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' });
  return {
    url: server.url,
    database,
    ids,
    tokens,
    reconciler,
    reported,
    async close() {
      await server.close();
      await database.close();
      await test.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
