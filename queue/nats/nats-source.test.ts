// The NATS source against the machine's real NATS server with JetStream (127.0.0.1:4222) and a
// real PostgreSQL database: each test file makes its own stream and subjects, and deletes them.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, openDatabase, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createIntake } from '../../webhooks/intake/accept-event.js';
import { UnstorableError } from '../../webhooks/intake/storable.js';
import { durableName, startNatsSource } from './nats-source.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const id = randomBytes(4).toString('hex');
const STREAM = `EVENTOPS_TEST_${id}`;
const ROOT = `eventops-test-${id}`;

describe('NATS source', () => {
  let nc: NatsConnection;
  let pg: TestDatabase;
  let database: Database;
  let dataDir: string;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    await (await nc.jetstreamManager()).streams.add({ name: STREAM, subjects: [`${ROOT}.>`] });
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-nats-'));
    database = await openDatabase({ url: pg.url, dataDir });
  });
  afterAll(async () => {
    await (await nc.jetstreamManager()).streams.delete(STREAM).catch(() => undefined);
    await nc.close();
    await database.close();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const rows = () => database.db.select().from(events).orderBy(events.receivedAt);
  const waitFor = async (check: () => Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return check();
  };
  const start = (errors: unknown[]) => {
    const intake = createIntake({ db: database.db, enqueue: async () => undefined, reportError: (e) => errors.push(e) });
    return startNatsSource({ url: NATS_URL, stream: STREAM, subjects: [`${ROOT}.clusters.*.status`, `${ROOT}.alerts.>`], accept: (e) => intake.accept(e), reportError: (e) => errors.push(e), retryMs: 100, isPermanent: (e) => e instanceof UnstorableError });
  };

  it('stores CloudEvents and plain messages from each subject filter, once per delivery, and acks them', async () => {
    const js = nc.jetstream();
    const cloudEvent = { specversion: '1.0', id: randomUUID(), type: 'taskrun.status', source: '/clusters/a', subject: 'runs/42', data: { phase: 'Succeeded' } };
    await js.publish(`${ROOT}.clusters.a.status`, JSON.stringify(cloudEvent));
    await js.publish(`${ROOT}.clusters.a.status`, JSON.stringify(cloudEvent)); // redelivered by the sender: stored once
    await js.publish(`${ROOT}.alerts.disk.full`, JSON.stringify({ host: 'db-1', used: 0.97 }));
    await js.publish(`${ROOT}.alerts.text`, 'not json at all');
    await js.publish(`${ROOT}.other`, '{"ignored":true}'); // no consumer filter covers it
    const errors: unknown[] = [];
    const source = await start(errors);
    try {
      expect(await waitFor(async () => (await rows()).length === 3)).toBe(true);
      const stored = await rows();
      expect(stored.find((r) => r.type === 'taskrun.status')).toMatchObject({ source: 'nats', subject: `${ROOT}.clusters.a.status`, deliveryId: cloudEvent.id, body: { phase: 'Succeeded' }, labels: { 'nats.stream': STREAM, 'ce.subject': 'runs/42' } });
      expect(stored.find((r) => r.type === `${ROOT}.alerts.disk.full`)).toMatchObject({ body: { host: 'db-1', used: 0.97 }, deliveryId: expect.stringMatching(new RegExp(`^${STREAM}:\\d+$`)) });
      expect(stored.find((r) => r.type === `${ROOT}.alerts.text`)?.body).toBe('not json at all');
      const jsm = await nc.jetstreamManager();
      expect(await waitFor(async () => (await jsm.consumers.info(STREAM, durableName('eventops', `${ROOT}.clusters.*.status`))).num_ack_pending === 0)).toBe(true);
      expect((await jsm.consumers.info(STREAM, durableName('eventops', `${ROOT}.clusters.*.status`))).delivered.consumer_seq).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      await source.close();
    }
  });

  it('terminates a message whose event can never be stored (a lone surrogate), instead of offering it again for ever', async () => {
    const errors: unknown[] = [];
    const source = await start(errors);
    try {
      await nc.jetstream().publish(`${ROOT}.alerts.lone`, '{"text":"\\ud800"}');
      await nc.jetstream().publish(`${ROOT}.alerts.after`, '{"n":2}');
      expect(await waitFor(async () => (await database.db.select().from(events).where(eq(events.type, `${ROOT}.alerts.after`))).length === 1)).toBe(true);
      // With retryMs 100 a nak'd message would have come back several times by now.
      await new Promise((r) => setTimeout(r, 600));
      expect(errors.map(String)).toEqual([expect.stringMatching(/body\.text contains a lone surrogate/)]);
      expect(await database.db.select().from(events).where(eq(events.type, `${ROOT}.alerts.lone`))).toEqual([]);
    } finally {
      await source.close();
    }
  });

  it('does not ack a message whose event could not be stored, and stores it once the database works', async () => {
    await database.db.execute(sql`create function refuse_events() returns trigger language plpgsql as $$ begin raise exception 'database unavailable (test)'; end $$`);
    await database.db.execute(sql`create trigger refuse before insert on events for each row execute function refuse_events()`);
    const errors: unknown[] = [];
    const source = await start(errors);
    try {
      await nc.jetstream().publish(`${ROOT}.alerts.late`, JSON.stringify({ n: 1 }));
      expect(await waitFor(async () => errors.length >= 2)).toBe(true); // refused, offered again, refused
      expect(String((errors[0] as Error).cause)).toContain('database unavailable (test)');
      await database.db.execute(sql`drop trigger refuse on events`);
      expect(await waitFor(async () => (await database.db.select().from(events).where(eq(events.type, `${ROOT}.alerts.late`))).length === 1)).toBe(true);
    } finally {
      await database.db.execute(sql`drop trigger if exists refuse on events`);
      await database.db.execute(sql`drop function if exists refuse_events()`);
      await source.close();
    }
  });
});
