// One event that 10,000 triggers match, end to end on a real PostgreSQL database (definitions
// synced by the real reconciler from a local folder): matching and creating the 10,000 runs
// must leave the event loop free (it froze the API for 30 s), measured with
// perf_hooks.monitorEventLoopDelay; and the matching time bound filters the triggers it did
// not reach, saying why.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { count, eq } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretStore, loadConfig } from '../../config/index.js';
import { createReconciler } from '../../reconciler/index.js';
import { events, openDatabase, runs, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createIntake } from '../../webhooks/intake/accept-event.js';
import { activeTriggersCache, type ActiveTriggersCache } from './active-triggers.js';
import { matchStoredEvent, type StoredVerdict } from './match-stored-event.js';

const TRIGGERS = 10_000;

/** `n` triggers of `storm` events, each with a glob and an expression filter, in files of 1,000 documents. */
export function stormTriggers(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let f = 0; f * 1000 < n; f++) {
    const docs: string[] = [];
    for (let i = f * 1000; i < Math.min(n, (f + 1) * 1000); i++) {
      docs.push(
        [
          'apiVersion: eventops.dev/v1',
          'kind: Trigger',
          `metadata: { name: storm-${i} }`,
          'spec:',
          '  event: { source: api, type: storm }',
          '  filters:',
          "    - { path: body.ref, value: ['refs/heads/*'], match: glob }",
          '    - expr: "size(body.items) > 0"',
          '  pipelines:',
          '    - name: echo',
          "      inputs: { ref: '${{ event.body.ref }}' }",
        ].join('\n'),
      );
    }
    files[`storm-${f}.yaml`] = `${docs.join('\n---\n')}\n`;
  }
  files['echo.yaml'] = 'apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: echo }\nspec:\n  inputs: [{ name: ref, type: string }]\n  tasks: [{ name: echo, type: local, commands: ["true"] }]\n';
  return files;
}

describe('one event matching 10,000 triggers', () => {
  let pg: TestDatabase;
  let database: Database;
  let dataDir: string;
  let triggers: ActiveTriggersCache;
  let accept: () => Promise<string>;

  beforeAll(async () => {
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-many-'));
    const folder = join(dataDir, 'defs');
    await mkdir(folder);
    for (const [name, text] of Object.entries(stormTriggers(TRIGGERS))) await writeFile(join(folder, name), text);
    database = await openDatabase({ url: pg.url, dataDir });
    const config = loadConfig({ cwd: dataDir, env: { EVENTOPS__SOURCES: JSON.stringify([{ name: 'storm', path: folder }]) } });
    const reconciler = createReconciler({ database, sources: config.sources, dataDir, secrets: createSecretStore({ env: {} }), logger: pino({ level: 'silent' }), schedule: false });
    await reconciler.start();
    expect((await reconciler.requestReconcile('storm')).outcome).toBe('applied');
    await reconciler.close();
    const intake = createIntake({ db: database.db, enqueue: async () => undefined, reportError: (e) => { throw e; } });
    accept = async () => (await intake.accept({ source: 'api', type: 'storm', headers: {}, labels: {}, body: { ref: 'refs/heads/main', items: [1] } })).eventId;
    triggers = activeTriggersCache(database.db);
    await triggers.get();
  }, 300_000);
  afterAll(async () => {
    await database?.close();
    await pg?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates all 10,000 runs without blocking the event loop for long', { timeout: 300_000 }, async () => {
    const id = await accept();
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const started = performance.now();
    const outcome = await matchStoredEvent({ db: database.db, triggers, limits: { expressionCost: 100_000, eventTimeMs: 60_000 } }, id);
    const tookMs = performance.now() - started;
    delay.disable();
    const maxDelayMs = delay.max / 1e6;
    console.log(`matched ${TRIGGERS} triggers in ${Math.round(tookMs)} ms; event loop delay max ${maxDelayMs.toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`);
    expect(outcome?.runIds).toHaveLength(TRIGGERS);
    const [created] = await database.db.select({ n: count() }).from(runs).where(eq(runs.eventId, id));
    expect(created?.n).toBe(TRIGGERS);
    // 100 ms is the aim; the bound leaves room for a shared, loaded machine (the old code: 448 ms).
    expect(maxDelayMs).toBeLessThan(250);
  });

  it('filters the triggers it did not reach within limits.matching.eventTime, saying why', { timeout: 300_000 }, async () => {
    const id = await accept();
    const outcome = await matchStoredEvent({ db: database.db, triggers, limits: { expressionCost: 100_000, eventTimeMs: 1 } }, id);
    const [row] = await database.db.select().from(events).where(eq(events.id, id));
    const verdicts = row?.verdicts as StoredVerdict[];
    expect(verdicts).toHaveLength(TRIGGERS);
    const late = verdicts.filter((v) => v.verdict === 'filtered');
    expect(late.length).toBeGreaterThan(0);
    expect(late[0]?.reason).toBe('not reached: matching this event took over 1 ms (limits.matching.eventTime)');
    expect(outcome?.runIds.length).toBe(TRIGGERS - late.length);
  });
});
