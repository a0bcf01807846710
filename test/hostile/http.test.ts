// Hostile HTTP clients against a real `eventops serve` (issue 20 item 4): bodies without a
// signature or token, for a receiver that does not exist, a crowd of slow large bodies, a body that
// stops arriving, and more connections than the server keeps. Small limits (below) make each bound
// reachable in seconds. Throughout, /healthz answers within 1 s on the watcher's own keep-alive
// connection; afterwards a correctly signed webhook is still accepted and stored.
//
// At limits.http.maxConnections node closes every new connection at once, a probe's included: a
// probe that keeps its connection alive (as the watcher does) is still answered, one that opens a
// new connection each time is refused until connections are freed (docs/operations.md, "HTTP requests").
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { sign } from '@octokit/webhooks-methods';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostileServer, watchHealth, type HealthWatch, type HostileServer } from './harness.js';

const SECRET = 'hostile-webhook-secret';
const TOKEN = 'hostile-receiver-token';
const MiB = 1024 * 1024;
const LIMITS = { maxBodyBytes: 4 * MiB, bodiesInFlight: 8 * MiB, maxConnections: 40, bodyTimeoutMs: 3_000 };
/** RSS may grow this much over its idle value under the attacks (bodies in flight are 8 MiB at most). */
const RSS_GROWTH_BOUND = 150 * MiB;

interface RawAnswer {
  /** The status line's code, or undefined when the connection closed without one. */
  status?: number;
  /** The whole answer as text (headers and body). */
  text: string;
  /** ms from the headers being sent to the first byte of the answer (or the close). */
  ms: number;
}

/** A raw HTTP/1.1 connection: sends `head` (the request line and headers), then `body` bytes, and waits for the answer. */
function rawRequest(url: string, head: string[], options: { body?: Buffer; timeoutMs?: number } = {}): { socket: Socket; answer: Promise<RawAnswer>; answered(): boolean } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const answer = new Promise<RawAnswer>((resolve) => {
    let text = '';
    let first: number | undefined;
    let started = performance.now();
    const done = () => {
      clearTimeout(timer);
      const code = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ ...(code ? { status: Number(code) } : {}), text, ms: Math.round((first ?? performance.now()) - started) });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, options.timeoutMs ?? 10_000);
    socket.on('connect', () => {
      started = performance.now();
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      if (options.body) socket.write(options.body);
    });
    socket.on('data', (data: Buffer) => {
      first ??= performance.now();
      text += data.toString('latin1');
      // One answer is all these tests read.
      if (/\r\n\r\n/.test(text) && /content-length: (\d+)/i.test(text)) {
        const length = Number(/content-length: (\d+)/i.exec(text)?.[1]);
        if (Buffer.byteLength(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1') >= length) {
          socket.destroy();
          done();
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
  });
  return { socket, answer, answered: () => socket.bytesRead > 0 };
}

/** GET /healthz on a new connection (as a probe that does not keep its connection would). */
function freshProbe(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe('hostile HTTP clients', () => {
  let server: HostileServer;
  let health: HealthWatch;
  let idleRss: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startHostileServer({
      configYaml: [
        'github:',
        '  webhookSecrets: [ { secret: GH_HOOK } ]',
        'receivers:',
        '  - name: hooks',
        '    auth: { bearer: { secret: HOOK_TOKEN } }',
        'limits:',
        `  http: { maxBodySize: ${LIMITS.maxBodyBytes}, bodiesInFlight: ${LIMITS.bodiesInFlight}, maxConnections: ${LIMITS.maxConnections}, bodyTimeout: ${LIMITS.bodyTimeoutMs / 1000}s }`,
        '',
      ].join('\n'),
      env: { EVENTOPS_SECRET_GH_HOOK: SECRET, EVENTOPS_SECRET_HOOK_TOKEN: TOKEN },
    });
    idleRss = server.rss();
    health = watchHealth(server.url, { pid: server.pid });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await health?.stop();
    await server?.close();
  });

  const github = (headers: string[], length: number) => ['POST /webhooks/github HTTP/1.1', 'host: eventops', 'content-type: application/json', `content-length: ${length}`, ...headers];

  it('refuses a body without a signature or token before a byte of it is sent (401)', async () => {
    const cases = [
      github(['x-github-event: push', `x-github-delivery: ${randomUUID()}`], 20 * MiB),
      ['POST /webhooks/generic/hooks HTTP/1.1', 'host: eventops', `content-length: ${20 * MiB}`],
      ['POST /webhooks/generic/hooks HTTP/1.1', 'host: eventops', 'authorization: Bearer wrong', `content-length: ${20 * MiB}`],
      ['POST /api/v1/events HTTP/1.1', 'host: eventops', 'content-type: application/json', `content-length: ${4 * MiB}`],
    ];
    for (const head of cases) {
      // Headers only: the answer must come without the body.
      const { answer } = rawRequest(server.url, head, { timeoutMs: 5_000 });
      const { status, text } = await answer;
      expect(status, `${head[0]}: ${text}`).toBe(401);
      expect(text.toLowerCase()).toContain('connection: close');
    }
  });

  it('refuses a body for a receiver that does not exist (404) or a GitHub request without its event headers (400) before it is sent', async () => {
    const unknown = await rawRequest(server.url, ['POST /webhooks/generic/nobody HTTP/1.1', 'host: eventops', 'authorization: Bearer x', `content-length: ${20 * MiB}`]).answer;
    expect(unknown.status, unknown.text).toBe(404);
    const noEvent = await rawRequest(server.url, github([`x-hub-signature-256: sha256=${'0'.repeat(64)}`], 20 * MiB)).answer;
    expect(noEvent.status, noEvent.text).toBe(400);
    const tooBig = await rawRequest(server.url, github([`x-hub-signature-256: sha256=${'0'.repeat(64)}`, 'x-github-event: push', `x-github-delivery: ${randomUUID()}`], 5 * MiB)).answer;
    expect(tooBig.status, tooBig.text).toBe(413);
  });

  it('answers 503 with Retry-After once signed bodies in flight pass bodiesInFlight, and holds no more than that', async () => {
    // 20 clients declare 3 MiB each with a (wrong) signature and send slowly: 8 MiB in flight fit two.
    const crowd = Array.from({ length: 20 }, () => {
      const request = rawRequest(server.url, github([`x-hub-signature-256: sha256=${'0'.repeat(64)}`, 'x-github-event: push', `x-github-delivery: ${randomUUID()}`], 3 * MiB), { timeoutMs: 15_000 });
      sockets.push(request.socket);
      // A trickle: 64 KiB every 100 ms until the server answers (writing on would only earn a reset).
      const trickle = setInterval(() => {
        if (!request.socket.destroyed && !request.answered()) request.socket.write(Buffer.alloc(64 * 1024, 0x20));
      }, 100);
      void request.answer.finally(() => clearInterval(trickle));
      return request.answer;
    });
    const answers = await Promise.all(crowd);
    const statuses = answers.map((a) => a.status);
    const busy = answers.filter((a) => a.status === 503);
    expect(busy.length, JSON.stringify(statuses)).toBeGreaterThanOrEqual(15);
    expect(busy[0]?.text.toLowerCase()).toMatch(/retry-after: \d+/);
    // The refusals come at once, not after the body.
    expect(Math.max(...busy.map((a) => a.ms))).toBeLessThan(2_000);
    // The two read: refused for their wrong signature, or given up at the body timeout (3 MiB at 640 KiB/s takes ~5 s).
    for (const status of statuses) expect([503, 401, 408]).toContain(status);
    expect(server.rss() - idleRss).toBeLessThan(RSS_GROWTH_BOUND);
  });

  it('answers 408 when a body stops arriving, after bodyTimeout', async () => {
    const body = '{"zen":';
    const { socket, answer } = rawRequest(server.url, github([`x-hub-signature-256: ${await sign(SECRET, body)}`, 'x-github-event: ping', `x-github-delivery: ${randomUUID()}`], 1000), { body: Buffer.from(body), timeoutMs: 15_000 });
    sockets.push(socket);
    const { status, ms, text } = await answer;
    expect(status, text).toBe(408);
    expect(ms).toBeGreaterThanOrEqual(LIMITS.bodyTimeoutMs - 500);
    expect(ms).toBeLessThan(LIMITS.bodyTimeoutMs + 5_000);
  });

  it('closes connections beyond maxConnections at once; a probe on a kept-alive connection is still answered', async () => {
    const flood: { socket: Socket; closed: Promise<number> }[] = [];
    for (let i = 0; i < LIMITS.maxConnections + 20; i++) {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      sockets.push(socket);
      socket.on('error', () => undefined);
      // Read what comes (a 408 at the headers timeout), so the close is seen.
      socket.resume();
      // Slow headers: a request line, and nothing more.
      socket.on('connect', () => socket.write('POST /webhooks/github HTTP/1.1\r\n'));
      const started = performance.now();
      flood.push({ socket, closed: new Promise((r) => socket.on('close', () => r(performance.now() - started))) });
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const closedAtOnce = flood.filter((f) => f.socket.destroyed).length;
    // The watcher holds one connection or two of the 40; every one past them is closed.
    expect(closedAtOnce).toBeGreaterThanOrEqual(20);
    expect(closedAtOnce).toBeLessThanOrEqual(22);
    // A probe on a new connection is refused while the server is full …
    expect(await freshProbe(server.url)).not.toBe(200);
    // … and the slow headers end at the headers timeout (min(60 s, bodyTimeout)), which frees them.
    const ends = await Promise.all(flood.map((f) => f.closed));
    expect(Math.max(...ends)).toBeLessThan(LIMITS.bodyTimeoutMs + 5_000);
    expect(await freshProbe(server.url)).toBe(200);
  });

  it('kept /healthz within 1 s and memory bounded throughout, and still accepts and stores a signed webhook', async () => {
    const watched = await health.stop();
    expect(watched.failures).toEqual([]);
    expect(watched.worstMs).toBeLessThan(1_000);
    expect(watched.peakRss - idleRss).toBeLessThan(RSS_GROWTH_BOUND);
    const body = JSON.stringify({ zen: 'Anything added dilutes everything else.', hook_id: 1 });
    const delivery = randomUUID();
    const res = await fetch(`${server.url}/webhooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': delivery, 'x-hub-signature-256': await sign(SECRET, body) },
      body,
    });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    const stored = await fetch(`${server.url}/api/v1/events/${eventId}`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(stored.status).toBe(200);
    expect(await stored.json()).toMatchObject({ source: 'github', type: 'ping', deliveryId: delivery });
  });
});
