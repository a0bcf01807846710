// The publisher's per-sink cursor and lease, on a real PostgreSQL and a real HTTP sink: jobs of
// one run that overlap (two processes, or two jobs in one) send each event once and in order; a
// lease left by a process that died is taken over once it runs out; a lease still held after a
// lease's length makes the job fail, to be retried.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from '../../schemas/index.js';
import { events, openDatabase, runEventCursors, runEvents, runs, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import type { DefinitionsAtRevision } from '../runs/index.js';
import { createRunEventPublisher } from './run-event-publisher.js';

describe('run event publisher', () => {
  let test: TestDatabase;
  let database: Database;
  let dataDir: string;
  let server: Server;
  let url: string;
  const received: string[] = [];

  // The run's pipeline at its revision, with one webhook sink taking everything.
  const pipeline = (): Pipeline => ({ apiVersion: 'eventops.dev/v1', kind: 'Pipeline', metadata: { name: 'p' }, spec: { tasks: [{ name: 'a' }], notify: [{ url: `${url}/hook`, on: ['started', 'succeeded', 'task.queued', 'task.succeeded'] }] } });
  const definitions: DefinitionsAtRevision = { get: async () => ({ commit: 'c0ffee', pipelines: new Map([['p', pipeline()]]), actuators: [] }) };
  const publisher = (leaseMs = 30_000) => createRunEventPublisher({ db: database.db, definitions, secret: () => '', logger: pino({ level: 'silent' }), leaseMs });
  const addEvents = (runId: string, from: number, ons: string[]) =>
    database.db.insert(runEvents).values(ons.map((on, i) => ({ runId, seq: from + i, on, subject: `p.${runId}.${on}`, event: { specversion: '1.0', id: `${runId}.${from + i}`, type: `dev.eventops.${on}` } })));

  beforeAll(async () => {
    test = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-publisher-'));
    database = await openDatabase({ url: test.url, dataDir });
    await database.db.insert(events).values({ id: 'e1', source: 'api', type: 't', status: 'matched' });
    await database.db.insert(runs).values(['r1', 'r2', 'r3'].map((id, i) => ({ id, source: 'ops', trigger: 't', pipeline: 'p', pipelineIndex: i, revisionId: 1, eventId: 'e1', status: 'succeeded' })));
    // A slow sink, so overlapping jobs do overlap.
    server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (s: string) => (text += s));
      req.on('end', () => {
        received.push((JSON.parse(text) as { id: string }).id);
        setTimeout(() => res.end(), 30);
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.close();
    await database?.close();
    await test?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('sends each event once and in order when jobs of the run overlap', async () => {
    await addEvents('r1', 1, ['started', 'task.queued', 'task.started', 'task.succeeded', 'succeeded']);
    const [one, two] = [publisher(), publisher()];
    await Promise.all([one.publish('r1'), two.publish('r1'), one.publish('r1')]);
    // task.started is not selected by the sink's `on`: skipped, and the cursor moves past it.
    expect(received.filter((id) => id.startsWith('r1.'))).toEqual(['r1.1', 'r1.2', 'r1.4', 'r1.5']);
    const [cursor] = await database.db.select().from(runEventCursors).where(eq(runEventCursors.runId, 'r1'));
    expect(cursor).toMatchObject({ sink: 'pipeline/0', sent: 5, leaseOwner: null, leaseUntil: null, error: null });
    await addEvents('r1', 6, ['succeeded']);
    await one.publish('r1');
    expect(received.filter((id) => id.startsWith('r1.'))).toEqual(['r1.1', 'r1.2', 'r1.4', 'r1.5', 'r1.6']);
  });

  it('takes over the lease of a process that died once it runs out', async () => {
    await addEvents('r2', 1, ['started']);
    await database.db.insert(runEventCursors).values({ runId: 'r2', sink: 'pipeline/0', leaseOwner: 'dead', leaseUntil: sql`now() + interval '1 second'` });
    const started = Date.now();
    await publisher(3_000).publish('r2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect(received.filter((id) => id.startsWith('r2.'))).toEqual(['r2.1']);
  });

  it('fails (to be retried) while another holds the lease longer than a lease lasts', async () => {
    await addEvents('r3', 1, ['started']);
    await database.db.insert(runEventCursors).values({ runId: 'r3', sink: 'pipeline/0', leaseOwner: 'busy', leaseUntil: sql`now() + interval '1 minute'` });
    await expect(publisher(300).publish('r3')).rejects.toThrow(/another worker is sending to it/);
    expect(received.filter((id) => id.startsWith('r3.'))).toEqual([]);
  });
});
