// The GitHub receiver against a real PostgreSQL database, replaying every example payload GitHub
// publishes (@octokit/webhooks-examples): signed correctly, every one is accepted and stored;
// signed wrongly, every one is refused and nothing is stored. Redeliveries create nothing.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, openDatabase, type Database } from '../../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { ApiError } from '../api/index.js';
import { createIntake, type IncomingEvent } from './accept-event.js';
import { githubReceiver } from './github-receiver.js';

const SECRET = 'current-webhook-secret';
const OLD_SECRET = 'previous-webhook-secret';

describe('POST /webhooks/github', () => {
  let pg: TestDatabase;
  let database: Database;
  let dataDir: string;
  const enqueued: string[] = [];
  const seen: IncomingEvent[] = [];
  let app: ReturnType<typeof githubReceiver>;

  beforeAll(async () => {
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-gh-'));
    database = await openDatabase({ url: pg.url, dataDir });
    const intake = createIntake({ db: database.db, enqueue: async (ids) => void enqueued.push(...ids), reportError: (e) => { throw e; } });
    app = githubReceiver({ intake, secrets: () => [SECRET, OLD_SECRET], onEvent: (e) => seen.push(e) });
    app.onError((error, c) => (error instanceof ApiError ? c.json({ error: { code: error.code, message: error.message } }, error.status) : c.json({ error: String(error) }, 500)));
  });
  afterAll(async () => {
    await database.close();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const post = async (name: string, payload: unknown, secret: string | undefined, delivery = randomUUID()) => {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': name, 'x-github-delivery': delivery };
    if (secret) headers['x-hub-signature-256'] = await sign(secret, body);
    return app.request('/webhooks/github', { method: 'POST', headers, body });
  };
  const count = async () => (await database.db.select({ n: sql<number>`count(*)::int` }).from(events))[0]?.n ?? 0;
  const all = examples.flatMap((e) => e.examples.map((payload) => ({ name: e.name, payload })));

  it('refuses every example signed with a wrong secret, or unsigned, and stores nothing', async () => {
    for (const { name, payload } of all) {
      const res = await post(name, payload, 'not-the-secret');
      expect(res.status).toBe(401);
    }
    expect((await post('push', {}, undefined)).status).toBe(401);
    expect(await count()).toBe(0);
    expect(enqueued).toEqual([]);
  });

  it(`accepts every example payload (${all.length}) signed with the current or the previous secret`, async () => {
    let i = 0;
    for (const { name, payload } of all) {
      const res = await post(name, payload, i++ % 2 === 0 ? SECRET : OLD_SECRET);
      expect(res.status, name).toBe(202);
      const { eventId } = (await res.json()) as { eventId: string };
      expect(eventId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(await count()).toBe(all.length);
    expect(enqueued).toHaveLength(all.length);
    const [pr] = await database.db.select().from(events).where(eq(events.type, 'pull_request')).limit(1);
    expect(pr).toMatchObject({ source: 'github', status: 'received', action: expect.any(String), subject: expect.stringContaining('/') });
    expect(pr?.headers).not.toHaveProperty('x-hub-signature-256');
    expect(seen).toHaveLength(all.length);
  });

  it('answers a redelivery 200 with the first event id and stores nothing new', async () => {
    const delivery = randomUUID();
    const first = await post('ping', { zen: 'Keep it logically awesome.' }, SECRET, delivery);
    expect(first.status).toBe(202);
    const before = await count();
    const again = await post('ping', { zen: 'Keep it logically awesome.' }, SECRET, delivery);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ eventId: ((await first.json()) as { eventId: string }).eventId, duplicate: true });
    expect(await count()).toBe(before);
  });

  it('refuses malformed requests with the reason', async () => {
    const body = 'not json';
    const signed = await sign(SECRET, body);
    const bad = await app.request('/webhooks/github', { method: 'POST', headers: { 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signed }, body });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('not valid JSON');
    const noEvent = await app.request('/webhooks/github', { method: 'POST', headers: { 'x-hub-signature-256': await sign(SECRET, '{}') }, body: '{}' });
    expect(noEvent.status).toBe(400);
    const huge = await app.request('/webhooks/github', { method: 'POST', headers: { 'content-length': String(26 * 1024 * 1024), 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signed }, body: '{}' });
    expect(huge.status).toBe(413);
  });

  it('refuses a request without a signature or an event header before reading its body', async () => {
    // A body that records whether anyone read it: an unauthenticated client must not make the server hold its bytes.
    let pulled = false;
    const body = () => new ReadableStream({ pull: (controller) => void ((pulled = true), controller.enqueue(new Uint8Array(1024))) }, { highWaterMark: 0 });
    const init = (headers: Record<string, string>) => ({ method: 'POST', headers, body: body(), duplex: 'half' }) as RequestInit;
    const unsigned = await app.request('/webhooks/github', init({ 'x-github-event': 'push', 'x-github-delivery': randomUUID() }));
    expect(unsigned.status).toBe(401);
    const noEvent = await app.request('/webhooks/github', init({ 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }));
    expect(noEvent.status).toBe(400);
    expect(pulled).toBe(false);
  });
});
