// Generic receivers against a real PostgreSQL database: a bearer-token receiver and an HMAC
// receiver, CloudEvents in structured and binary mode, and redeliveries by delivery id.
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, openDatabase, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { ApiError } from '../api/index.js';
import { createIntake } from './accept-event.js';
import { genericReceiver } from './generic-receiver.js';

describe('POST /webhooks/generic/<name>', () => {
  let pg: TestDatabase;
  let database: Database;
  let dataDir: string;
  let app: ReturnType<typeof genericReceiver>;
  const secrets: Record<string, string> = { AM_TOKEN: 'alertmanager-bearer-token', HOOK_KEY: 'hmac-key' };

  beforeAll(async () => {
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-generic-'));
    database = await openDatabase({ url: pg.url, dataDir });
    const intake = createIntake({ db: database.db, enqueue: async () => undefined, reportError: (e) => { throw e; } });
    app = genericReceiver({
      intake,
      receivers: [
        { name: 'alertmanager', auth: { bearer: 'AM_TOKEN' } },
        { name: 'deployer', auth: { hmac: { secret: 'HOOK_KEY', header: 'x-signature', prefix: 'sha256=' } } },
        { name: 'unset', auth: { bearer: 'NOT_SET' } },
      ],
      secret: (name) => secrets[name],
    });
    app.onError((error, c) => (error instanceof ApiError ? c.json({ error: { code: error.code, message: error.message } }, error.status) : c.json({ error: String(error) }, 500)));
  });
  afterAll(async () => {
    await database.close();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const stored = async (id: string) => (await database.db.select().from(events).where(eq(events.id, id)))[0];
  const count = async () => (await database.db.select({ n: sql<number>`count(*)::int` }).from(events))[0]?.n ?? 0;

  it('accepts a bearer-authenticated JSON body and refuses a wrong or missing token', async () => {
    const body = JSON.stringify({ status: 'firing', alerts: [{ labels: { alertname: 'DiskFull' } }] });
    const ok = await app.request('/webhooks/generic/alertmanager', { method: 'POST', headers: { authorization: 'Bearer alertmanager-bearer-token', 'x-event-type': 'alert' }, body });
    expect(ok.status).toBe(202);
    const { eventId } = (await ok.json()) as { eventId: string };
    expect(await stored(eventId)).toMatchObject({ source: 'webhook/alertmanager', type: 'alert', body: { status: 'firing' } });
    const before = await count();
    expect((await app.request('/webhooks/generic/alertmanager', { method: 'POST', headers: { authorization: 'Bearer wrong' }, body })).status).toBe(401);
    expect((await app.request('/webhooks/generic/alertmanager', { method: 'POST', body })).status).toBe(401);
    expect(await count()).toBe(before);
  });

  it('checks an HMAC of the raw bytes and reads a structured CloudEvent', async () => {
    const cloudEvent = { specversion: '1.0', id: randomUUID(), type: 'deploy.finished', source: '/ci', subject: 'services/payments', data: { sha: 'abc123' } };
    const body = JSON.stringify(cloudEvent);
    const signature = `sha256=${createHmac('sha256', 'hmac-key').update(body).digest('hex')}`;
    const res = await app.request('/webhooks/generic/deployer', { method: 'POST', headers: { 'x-signature': signature, 'content-type': 'application/cloudevents+json' }, body });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    expect(await stored(eventId)).toMatchObject({ source: 'webhook/deployer', type: 'deploy.finished', subject: 'services/payments', deliveryId: cloudEvent.id, body: { sha: 'abc123' } });
    const again = await app.request('/webhooks/generic/deployer', { method: 'POST', headers: { 'x-signature': signature }, body });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ eventId, duplicate: true });
    const tampered = await app.request('/webhooks/generic/deployer', { method: 'POST', headers: { 'x-signature': signature }, body: body.replace('abc123', 'evil') });
    expect(tampered.status).toBe(401);
  });

  it('reads a binary-mode CloudEvent from ce-* headers', async () => {
    const body = JSON.stringify({ replicas: 3 });
    const signature = `sha256=${createHmac('sha256', 'hmac-key').update(body).digest('hex')}`;
    const res = await app.request('/webhooks/generic/deployer', { method: 'POST', headers: { 'x-signature': signature, 'ce-type': 'scale.requested', 'ce-id': 'scale-1', 'ce-subject': 'services/search' }, body });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    expect(await stored(eventId)).toMatchObject({ type: 'scale.requested', subject: 'services/search', deliveryId: 'scale-1', body: { replicas: 3 } });
  });

  it('answers 404 for an unknown receiver and 503 when its secret is not set', async () => {
    expect((await app.request('/webhooks/generic/nobody', { method: 'POST', body: '{}' })).status).toBe(404);
    const unset = await app.request('/webhooks/generic/unset', { method: 'POST', headers: { authorization: 'Bearer x' }, body: '{}' });
    expect(unset.status).toBe(503);
    expect(((await unset.json()) as { error: { message: string } }).error.message).toContain('NOT_SET');
  });

  it('refuses an unknown receiver, a wrong bearer token or a missing signature before reading the body', async () => {
    // A body that records whether anyone read it: an unauthenticated client must not make the server hold its bytes.
    let pulled = false;
    const init = (headers: Record<string, string>) =>
      ({ method: 'POST', headers, body: new ReadableStream({ pull: (controller) => void ((pulled = true), controller.enqueue(new Uint8Array(1024))) }, { highWaterMark: 0 }), duplex: 'half' }) as RequestInit;
    expect((await app.request('/webhooks/generic/nobody', init({}))).status).toBe(404);
    expect((await app.request('/webhooks/generic/alertmanager', init({ authorization: 'Bearer wrong' }))).status).toBe(401);
    expect((await app.request('/webhooks/generic/alertmanager', init({}))).status).toBe(401);
    expect((await app.request('/webhooks/generic/deployer', init({}))).status).toBe(401);
    expect(pulled).toBe(false);
  });
});
