// Notifications and CloudEvents out, end to end: a real `eventops serve` process (PostgreSQL with
// the embedded queue, the embedded PGlite, PostgreSQL with BullMQ on Redis) publishes the
// CloudEvents of its runs to NATS JetStream (a stream the test creates, read back by a real
// consumer) and POSTs the ones `notify` selects to webhook sinks
// served by the test, with the secret header resolved. A sink answering 500 gets its event once it
// answers 200, and the run never waits for it.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { AckPolicy, DeliverPolicy, connect, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const HOOK_TOKEN = `Bearer hook-${randomBytes(8).toString('hex')}`;

interface CloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: string;
  data: { run: { id: string; pipeline: string; status: string; revision: string }; task?: { name: string; status: string; outputs?: Record<string, unknown> }; tasks?: { name: string; status: string }[] };
}

/** The problems of `value` as a CloudEvents 1.0 JSON event (structured mode); empty when valid. */
function cloudEventProblems(value: unknown): string[] {
  const e = value as Record<string, unknown>;
  const problems: string[] = [];
  if (e.specversion !== '1.0') problems.push('specversion is not 1.0');
  for (const key of ['id', 'source', 'type']) if (typeof e[key] !== 'string' || (e[key] as string).length === 0) problems.push(`${key} is not a non-empty string`);
  if (typeof e.time !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(e.time)) problems.push('time is not RFC 3339');
  if (e.datacontenttype !== 'application/json') problems.push('datacontenttype is not application/json');
  // Attribute names: lowercase letters and digits only (CloudEvents 1.0, "Attribute Naming Convention").
  for (const key of Object.keys(e)) if (!/^[a-z0-9]{1,20}$/.test(key)) problems.push(`attribute name ${key} is not valid`);
  if (typeof e.data !== 'object' || e.data === null) problems.push('data is not a JSON object');
  return problems;
}

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: CloudEvent;
  answered: number;
}

/** A webhook sink: records every POST; `/flaky` answers 500 to its first `failures` requests. */
async function startSink(failures: number): Promise<{ url: string; deliveries: Delivery[]; server: Server }> {
  const deliveries: Delivery[] = [];
  let flaky = 0;
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (s: string) => (text += s));
    req.on('end', () => {
      const answered = req.url === '/flaky' && flaky++ < failures ? 500 : 200;
      deliveries.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text) as CloudEvent, answered });
      res.statusCode = answered;
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, deliveries, server };
}

async function until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, output: () => string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 3000)}\n--- server output ---\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe.each(['postgres', 'embedded', 'bullmq'] as const)('CloudEvents of runs on NATS and notify sinks (%s)', (mode) => {
  const id = randomBytes(4).toString('hex');
  const prefix = `t${id}`;
  const stream = `EVENTOPS_NOTIFY_TEST_${id}`;
  let dir: string;
  let database: TestDatabase | undefined;
  let server: ServerProcess;
  let sink: Awaited<ReturnType<typeof startSink>>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const output = () => server?.output() ?? '';

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const start = async (type: string): Promise<string> => {
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type, body: {} }) });
    const event = await until(`event ${type} matched`, () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received', output);
    expect(event.runs).toHaveLength(1);
    return (event.runs[0] as { id: string }).id;
  };
  const runStatus = async (runId: string) => (await api<{ status: string }>(`/api/v1/runs/${runId}`)).status;

  /** Every message of the test's stream on `filter`, in stream order, read by a fresh consumer. */
  const streamMessages = async (filter: string): Promise<{ subject: string; msgId: string | undefined; event: CloudEvent }[]> => {
    const name = `read-${randomBytes(4).toString('hex')}`;
    await jsm.consumers.add(stream, { name, filter_subject: filter, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const out: { subject: string; msgId: string | undefined; event: CloudEvent }[] = [];
    const pending = (await consumer.info()).num_pending;
    if (pending > 0) {
      const batch = await consumer.fetch({ max_messages: pending, expires: 2_000 });
      for await (const m of batch) {
        out.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), event: m.json<CloudEvent>() });
        if (out.length === pending) break;
      }
    }
    await jsm.consumers.delete(stream, name);
    return out;
  };

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await nc.jetstreamManager();
    // What the operator does once (docs/operations.md): a stream capturing the runs' subjects.
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.runs.>`, `${prefix}.notify.>`] });
    sink = await startSink(1);
    dir = await mkdtemp(join(tmpdir(), 'eventops-notify-'));
    const defs = join(dir, 'defs');
    await mkdir(defs);
    const hook = { url: `${sink.url}/hook`, on: ['started', 'succeeded', 'task.succeeded'], headers: { Authorization: { secret: 'HOOK_TOKEN' }, 'X-Team': 'ops' } };
    await writeFile(
      join(defs, 'defs.yaml'),
      [
        'apiVersion: eventops.dev/v1\nkind: Actuator\nmetadata: { name: shell }\nspec: { tags: [local], local: {} }',
        `apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: two-steps }\nspec:\n  tasks:\n    - { name: build, commands: [ "echo built" ], outputs: [ { name: image, value: "app:1" } ] }\n    - { name: ship, needs: [build], commands: [ "echo shipped" ] }\n  notify: [ ${JSON.stringify(hook)} ]`,
        `apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: on-two-steps }\nspec:\n  event: { source: api, type: notify.two-steps }\n  pipelines: [ { name: two-steps } ]\n  notify: [ { nats: ${prefix}.notify.two-steps, on: [succeeded, failed] } ]`,
        `apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: flaky-sink }\nspec:\n  tasks: [ { name: only, commands: [ "true" ] } ]\n  notify: [ { url: { secret: FLAKY_HOOK_URL }, on: [succeeded] } ]`,
        `apiVersion: eventops.dev/v1\nkind: Trigger\nmetadata: { name: on-flaky-sink }\nspec:\n  event: { source: api, type: notify.flaky-sink }\n  pipelines: [ { name: flaky-sink } ]`,
      ].join('\n---\n'),
    );
    const config = join(dir, 'eventops.yaml');
    await writeFile(
      config,
      [
        'server: { port: 0, host: 127.0.0.1 }',
        `dataDir: ${join(dir, 'data')}`,
        `sources: [ { name: ops, path: ${defs}, secrets: [ HOOK_TOKEN, FLAKY_HOOK_URL ] } ]`,
        'queue: { sweepInterval: 1s, sweepAfter: 2s }',
        `nats: { url: ${NATS_URL}, runsPrefix: ${prefix}.runs }`,
        `redis: { prefix: ${prefix} }`,
        '',
      ].join('\n'),
    );
    if (mode !== 'embedded') database = await createTestDatabase();
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { ...(database ? { DATABASE_URL: database.url } : {}), ...(mode === 'bullmq' ? { REDIS_URL } : {}), EVENTOPS_SECRET_HOOK_TOKEN: HOOK_TOKEN, EVENTOPS_SECRET_FLAKY_HOOK_URL: `${sink.url}/flaky` } });
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 5, output);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    if (mode === 'bullmq') {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await jsm?.streams.delete(stream).catch(() => undefined);
    await nc?.close();
    sink?.server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('publishes a run\'s CloudEvents to NATS in order, and its notify sinks get what they select with the secret header', async () => {
    const runId = await start('notify.two-steps');
    await until('run ended', () => runStatus(runId), (s) => s === 'succeeded', output);
    const expected = [
      ['started', 'dev.eventops.run.started'],
      ['tasks.build.queued', 'dev.eventops.task.queued'],
      ['tasks.build.started', 'dev.eventops.task.started'],
      ['tasks.build.succeeded', 'dev.eventops.task.succeeded'],
      ['tasks.ship.queued', 'dev.eventops.task.queued'],
      ['tasks.ship.started', 'dev.eventops.task.started'],
      ['tasks.ship.succeeded', 'dev.eventops.task.succeeded'],
      ['succeeded', 'dev.eventops.run.succeeded'],
    ];
    const messages = await until('the run\'s CloudEvents on NATS', () => streamMessages(`${prefix}.runs.two-steps.${runId}.>`), (m) => m.length >= expected.length, output);
    expect(messages.map((m) => [m.subject.slice(`${prefix}.runs.two-steps.${runId}.`.length), m.event.type])).toEqual(expected);
    for (const m of messages) expect(cloudEventProblems(m.event)).toEqual([]);
    // Stable, unique ids in publication order; JetStream dedupes retries on them.
    expect(messages.map((m) => m.event.id)).toEqual(expected.map((_, i) => `${runId}.${i + 1}`));
    expect(messages.map((m) => m.msgId)).toEqual(messages.map((m) => m.event.id));
    const first = messages[0]!.event;
    expect(first.source).toBe(`eventops/local/runs/${runId}`);
    expect(first.data.run).toMatchObject({ id: runId, pipeline: 'two-steps', status: 'running' });
    expect(first.data.run.revision).toMatch(/\S/);
    expect(messages[2]!.event).toMatchObject({ subject: 'tasks/build', data: { task: { name: 'build', status: 'running', actuator: 'ops/shell' } } });
    expect(messages[3]!.event).toMatchObject({ subject: 'tasks/build', data: { task: { name: 'build', status: 'succeeded', outputs: { image: 'app:1' } } } });
    expect(messages[7]!.event.data.tasks?.map((t) => `${t.name}:${t.status}`)).toEqual(['build:succeeded', 'ship:succeeded']);

    // The pipeline's webhook: started, both tasks' successes and the end, in order, never the queued ones.
    const hooked = await until('webhook deliveries', () => sink.deliveries.filter((d) => d.path === '/hook' && d.body.data.run.id === runId), (d) => d.length >= 4, output);
    expect(hooked.map((d) => d.body.type)).toEqual(['dev.eventops.run.started', 'dev.eventops.task.succeeded', 'dev.eventops.task.succeeded', 'dev.eventops.run.succeeded']);
    expect(hooked.map((d) => d.body.id)).toEqual([1, 4, 7, 8].map((n) => `${runId}.${n}`));
    for (const d of hooked) {
      expect(d.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
      expect(d.headers.authorization).toBe(HOOK_TOKEN);
      expect(d.headers['x-team']).toBe('ops');
      expect(cloudEventProblems(d.body)).toEqual([]);
      expect(JSON.stringify(d.body)).not.toContain(HOOK_TOKEN);
    }
    // The trigger's NATS sink: only the run's end.
    const notified = await until('the trigger\'s NATS sink', () => streamMessages(`${prefix}.notify.two-steps`), (m) => m.some((x) => x.event.data.run.id === runId), output);
    expect(notified.filter((m) => m.event.data.run.id === runId).map((m) => m.event.type)).toEqual(['dev.eventops.run.succeeded']);
    expect(output()).not.toContain(HOOK_TOKEN);
  }, 60_000);

  it('a sink (its URL a secret) answering 500 gets the event once it recovers, and the run does not wait for it', async () => {
    const runId = await start('notify.flaky-sink');
    // The run ends while its only sink refuses the event.
    await until('run ended', () => runStatus(runId), (s) => s === 'succeeded', output);
    const refused = await until('the first delivery (refused)', () => sink.deliveries.filter((d) => d.path === '/flaky'), (d) => d.length >= 1, output);
    expect(refused[0]!.answered).toBe(500);
    const delivered = await until('the retried delivery', () => sink.deliveries.filter((d) => d.path === '/flaky'), (d) => d.some((x) => x.answered === 200), output, 45_000);
    expect(delivered.map((d) => [d.answered, d.body.type, d.body.id])).toEqual([
      [500, 'dev.eventops.run.succeeded', delivered[0]!.body.id],
      [200, 'dev.eventops.run.succeeded', delivered[0]!.body.id],
    ]);
    expect(delivered[1]!.body.data.run).toMatchObject({ id: runId, status: 'succeeded' });
    expect(await runStatus(runId)).toBe('succeeded');
    // Once delivered, nothing more is sent to it.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sink.deliveries.filter((d) => d.path === '/flaky')).toHaveLength(2);
    // The failure was logged, naming the secret that holds the URL, never the URL.
    expect(output()).toContain('webhook (URL in secret FLAKY_HOOK_URL): answered HTTP 500');
    expect(output()).not.toContain('/flaky');
  }, 90_000);
});
