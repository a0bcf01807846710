// Matching stored events end to end on a real PostgreSQL database: the starter definitions are
// synced by the real reconciler (a local folder source), events are accepted by the intake, and
// the match-event handler creates pending runs pinned to the revision, records every verdict,
// honours dedupe and matches each event once.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretStore, loadConfig } from '../../config/index.js';
import { createReconciler } from '../../reconciler/index.js';
import { events, openDatabase, runs, sources, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createIntake, type IncomingEvent } from '../../webhooks/intake/accept-event.js';
import { activeTriggersCache } from './active-triggers.js';
import { matchStoredEvent, type StoredVerdict } from './match-stored-event.js';

describe('matching stored events', () => {
  let pg: TestDatabase;
  let database: Database;
  let dataDir: string;
  let revisionId: number;
  let accept: (e: Partial<IncomingEvent> & { source: string; type: string }) => Promise<string>;
  let match: (id: string) => ReturnType<typeof matchStoredEvent>;

  beforeAll(async () => {
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-match-'));
    database = await openDatabase({ url: pg.url, dataDir });
    const config = loadConfig({ cwd: resolve('.'), env: { EVENTOPS__SOURCES: JSON.stringify([{ name: 'template', path: 'definitions-template' }]) } });
    const reconciler = createReconciler({ database, sources: config.sources, dataDir, secrets: createSecretStore({ env: {} }), logger: pino({ level: 'silent' }), schedule: false });
    await reconciler.start();
    expect((await reconciler.requestReconcile('template')).outcome).toBe('applied');
    await reconciler.close();
    const [source] = await database.db.select().from(sources).where(eq(sources.name, 'template'));
    revisionId = source?.activeRevisionId as number;
    const intake = createIntake({ db: database.db, enqueue: async () => undefined, reportError: (e) => { throw e; } });
    accept = async (e) => (await intake.accept({ headers: {}, labels: {}, body: null, ...e })).eventId;
    const triggers = activeTriggersCache(database.db);
    match = (id) => matchStoredEvent({ db: database.db, triggers }, id);
  });
  afterAll(async () => {
    await database.close();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const stored = async (id: string) => (await database.db.select().from(events).where(eq(events.id, id)))[0];
  const runsOf = (id: string) => database.db.select().from(runs).where(eq(runs.eventId, id));
  const verdict = async (id: string, trigger: string) => ((await stored(id))?.verdicts as StoredVerdict[]).find((v) => v.trigger === trigger);

  it('starts a pending run pinned to the revision, with resolved inputs, once per event', async () => {
    const id = await accept({ source: 'api', type: 'hello', body: { name: 'platform team' } });
    const outcome = await match(id);
    expect(outcome).toMatchObject({ status: 'matched', runIds: [expect.any(String)] });
    expect(await runsOf(id)).toEqual([
      expect.objectContaining({ source: 'template', trigger: 'hello', pipeline: 'hello-world', revisionId, status: 'pending', inputs: { greeting: 'Hello', name: 'platform team' } }),
    ]);
    expect(await stored(id)).toMatchObject({ status: 'matched', matchedAt: expect.any(Date) });
    expect(await verdict(id, 'hello')).toMatchObject({ verdict: 'matched', runs: outcome?.runIds });
    expect(await match(id)).toBeUndefined();
    expect(await runsOf(id)).toHaveLength(1);
  });

  it('records why a trigger did not match, and marks an event nothing matched', async () => {
    const id = await accept({ source: 'api', type: 'deploy.requested', subject: 'services.payments', labels: { env: 'qa' }, body: { sha: '3f9c2e1' } });
    expect(await match(id)).toMatchObject({ status: 'unmatched', runIds: [] });
    expect(await verdict(id, 'deploy-requested')).toMatchObject({ verdict: 'filtered', reason: expect.stringContaining('labels.env') });
    expect((await stored(id))?.status).toBe('unmatched');
  });

  it('starts one run per dedupe key: a second push of the same commit starts nothing', async () => {
    const push = (after: string) => ({ source: 'github', type: 'push', deliveryId: randomUUID(), body: { ref: 'refs/heads/main', after, commits: [{ id: after }] } });
    const first = await accept(push('3f9c2e1a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e'));
    const second = await accept(push('3f9c2e1a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e'));
    const other = await accept(push('0123456789abcdef0123456789abcdef01234567'));
    expect((await match(first))?.runIds).toHaveLength(1);
    expect((await match(second))?.runIds).toEqual([]);
    expect(await verdict(second, 'build-on-push')).toMatchObject({ verdict: 'deduplicated' });
    expect((await stored(second))?.status).toBe('matched');
    expect((await match(other))?.runIds).toHaveLength(1);
    expect((await runsOf(first))[0]?.inputs).toMatchObject({ ref: '3f9c2e1a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e', env: 'staging' });
  });

  it('starts one run for one dedupe key even when its events are matched at the same moment', async () => {
    const sha = 'feedfacefeedfacefeedfacefeedfacefeedface';
    const push = () => ({ source: 'github', type: 'push', deliveryId: randomUUID(), body: { ref: 'refs/heads/main', after: sha, commits: [{ id: sha }] } });
    const ids = await Promise.all(Array.from({ length: 6 }, () => accept(push())));
    const outcomes = await Promise.all(ids.map((id) => match(id)));
    expect(outcomes.flatMap((o) => o?.runIds ?? [])).toHaveLength(1);
    const verdicts = await Promise.all(ids.map((id) => verdict(id, 'build-on-push')));
    expect(verdicts.map((v) => v?.verdict).sort()).toEqual(['deduplicated', 'deduplicated', 'deduplicated', 'deduplicated', 'deduplicated', 'matched']);
  });

  it('starts nothing for a slash-command whose permission cannot be checked yet, and says so', async () => {
    const id = await accept({ source: 'github', type: 'issue_comment', action: 'created', deliveryId: randomUUID(), body: { action: 'created', comment: { body: '/deploy', user: { login: 'mallory' } }, issue: { number: 7, pull_request: { url: 'x' } } } });
    expect((await match(id))?.runIds).toEqual([]);
    expect(await verdict(id, 'deploy-command')).toMatchObject({ verdict: 'permission-unchecked', reason: expect.stringContaining('write permission') });
  });

  it('fires a schedule tick for its own trigger only', async () => {
    const id = await accept({ source: 'schedule', type: 'schedule', subject: 'template/nightly', deliveryId: 'template/nightly@2026-01-01T02:00:00.000Z', labels: { source: 'template', trigger: 'nightly' }, body: { scheduledTime: '2026-01-01T02:00:00.000Z' } });
    const outcome = await match(id);
    expect(await runsOf(id)).toEqual([expect.objectContaining({ trigger: 'nightly', pipeline: 'build-test-deploy', inputs: expect.objectContaining({ ref: 'main', 'run-tests': true }) })]);
    expect(outcome?.runIds).toHaveLength(1);
  });
});
