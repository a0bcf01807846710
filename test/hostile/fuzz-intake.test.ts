// A seeded fuzz test of the intake routes against a real `eventops serve` on PostgreSQL: 2,000
// requests to `POST /api/v1/events`, `/webhooks/github` and `/webhooks/generic/<name>` with
// random bodies (events, random JSON, broken JSON, YAML, deep nesting, long strings, NULs, lone
// surrogates, random bytes, invalid UTF-8, CloudEvents with data_base64) and random headers
// (content types and charsets, content encodings, tokens and signatures missing, garbled or
// right — right ones get past authentication into parsing and storage). No answer may be a 5xx
// or take longer than its bound, /healthz keeps answering, every 202 is stored, and the server
// serves afterwards. The seed is printed; FUZZ_SEED=<n> replays a run, FUZZ_CASES=<n> resizes it.
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startHostileServer, watchHealth, type HostileServer } from './harness.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CASES = Number(process.env.FUZZ_CASES ?? 2000);
/** Requests in flight at once: enough to mix batches, little enough for a shared 2-core machine. */
const CONCURRENCY = 6;
/** Longest a request may take before it counts as a hang. */
const REQUEST_BOUND_MS = 10_000;
const GH_SECRET = 'fuzz-github-secret';
const HOOK_SECRET = 'fuzz-hook-secret';
const AM_TOKEN = 'fuzz-bearer-token-0123456789';

/** mulberry32: small, fast and good enough to pick cases; the same seed gives the same run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof prng>;

const NASTY_TEXT = ['\u0000', '\ud800', '\udfff', '\udc00\ud800', '😀', 'ü', '\u2028', '\ufeff', '\\', '"', '\n', '\t', '${{ event.body }}', '$(id)', '%00', '\u0001', '\u007f', 'é'];
const KEYS = ['apiVersion', 'kind', 'type', 'subject', 'labels', 'body', 'id', 'specversion', 'data', 'data_base64', 'source', 'time', 'action', 'repository', 'name', 'version', 'values', 'files', 'timestamp', 'eventName', 'metadata', 'spec', '__proto__', 'constructor', ''];

function randomText(r: Rng, max = 40): string {
  let s = '';
  const n = r.int(max);
  for (let i = 0; i < n; i++) {
    const roll = r.next();
    if (roll < 0.08) s += r.pick(NASTY_TEXT);
    else if (roll < 0.12) s += String.fromCharCode(r.int(0x10000));
    else s += String.fromCharCode(0x20 + r.int(0x5f));
  }
  return s;
}

function randomValue(r: Rng, depth = 0): unknown {
  const roll = r.int(depth > 4 ? 5 : 8);
  switch (roll) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1e308, -1e-300, 2 ** 53 + 1, 3.14, Number.MAX_SAFE_INTEGER]);
    case 3:
    case 4:
      return randomText(r);
    case 5:
    case 6: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(6); i > 0; i--) o[r.chance(0.5) ? r.pick(KEYS) : randomText(r, 12)] = randomValue(r, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: r.int(6) }, () => randomValue(r, depth + 1));
  }
}

function nested(r: Rng, depth: number): string {
  const open = r.chance(0.5) ? '['.repeat(depth) : '{"a":'.repeat(depth);
  const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth);
  return `${open}${r.chance(0.5) ? '1' : '"x"'}${close}`;
}

/** A body: text or bytes, one of many shapes. */
function randomBody(r: Rng): { body: string | Buffer; shape: string } {
  switch (r.int(14)) {
    case 0:
      return { shape: 'event', body: JSON.stringify({ type: `fuzz.${r.int(5)}`, subject: `s/${r.int(9)}`, labels: { env: r.pick(['dev', 'prod']) }, body: randomValue(r) }) };
    case 1:
      return { shape: 'event with nasty fields', body: JSON.stringify({ type: randomText(r, 10) || 't', subject: randomText(r, 10), labels: { [randomText(r, 5)]: randomText(r, 5) }, id: randomText(r, 8), body: randomValue(r) }) };
    case 2:
      return { shape: 'random json', body: JSON.stringify(randomValue(r)) ?? 'null' };
    case 3: {
      const text = JSON.stringify({ type: 't', body: randomValue(r) });
      const cut = r.int(text.length + 1);
      return { shape: 'broken json', body: r.chance(0.5) ? text.slice(0, cut) : `${text.slice(0, cut)}${String.fromCharCode(r.int(128))}${text.slice(cut)}` };
    }
    case 4:
      return {
        shape: 'yaml',
        body: r.pick([
          `apiVersion: eventops.dev/v1\nkind: Event\ntype: y${r.int(9)}\nbody: { a: [1, 2, {b: "${randomText(r, 8).replace(/["\\]/g, '')}"}] }\n`,
          `type: "\\0x"\n`,
          `type: "\\ud800"\n`,
          `a: &a [1, 2]\nb: [*a, *a, *a]\ntype: t\n`,
          `type: t\nbody: !!binary aGVsbG8=\n`,
          `type: t\nbody: !!js/function "function(){}"\n`,
          `--- \ntype: a\n---\ntype: b\n`,
          `type: [unclosed\n`,
          `? [a, b]\n: c\ntype: t\n`,
          `${'- '.repeat(r.int(300))}x\n`,
          `type: t\nbody: ${'['.repeat(r.int(3000))}\n`,
          `kind: ${r.pick(['Pipeline', 'Trigger', 'Actuator', 'Event', 'event'])}\napiVersion: ${r.pick(['eventops.dev/v1', 'eventops.dev/v2', 'v1', ''])}\ntype: t\n`,
          `name: legacy\nversion: 1\nvalues: { a: 1 }\n`,
        ]),
      };
    case 5:
      return { shape: 'deep', body: r.chance(0.5) ? `{"type":"t","body":${nested(r, r.int(20_000))}}` : nested(r, r.int(20_000)) };
    case 6: {
      const size = r.pick([1_000, 30_000, 300_000]);
      return { shape: 'long string', body: JSON.stringify({ type: 't', body: { text: 'x'.repeat(r.int(size)) + (r.chance(0.3) ? '\u0000' : '') } }) };
    }
    case 7: {
      const escape = r.pick(['\\u0000', '\\ud800', '\\udbff\\u0041', '\\udc00', '\\ud83d\\ude00', '\\u0000\\u0000']);
      const where = r.int(4);
      const body = where === 0 ? `{"type":"t${escape}"}` : where === 1 ? `{"type":"t","subject":"${escape}"}` : where === 2 ? `{"type":"t","labels":{"k${escape}":"v"}}` : `{"type":"t","body":{"k":["${escape}"]}}`;
      return { shape: 'escape', body };
    }
    case 8:
      return { shape: 'random bytes', body: Buffer.from(Array.from({ length: r.int(2000) }, () => r.int(256))) };
    case 9: {
      const bad = r.pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0x00], [0xef, 0xbb, 0xbf]]);
      return { shape: 'invalid utf-8', body: Buffer.concat([Buffer.from('{"type":"t","body":"'), Buffer.from(bad), Buffer.from('"}')]) };
    }
    case 10: {
      const bytes = Buffer.from(Array.from({ length: r.int(64) }, () => (r.chance(0.8) ? 0x20 + r.int(0x5f) : r.int(256))));
      const envelope: Record<string, unknown> = { specversion: r.pick(['1.0', '0.3', 1, null, '']), type: r.pick(['ce.t', '', 7, null]), source: '/fuzz', id: `ce-${r.int(50)}` };
      if (r.chance(0.7)) envelope.data_base64 = r.chance(0.9) ? bytes.toString('base64') : randomText(r, 20);
      else envelope.data = randomValue(r);
      if (r.chance(0.3)) envelope.ext = JSON.parse(nested(r, r.int(3000))) as unknown;
      if (r.chance(0.3)) envelope.subject = randomText(r, 10);
      return { shape: 'cloudevent', body: JSON.stringify(envelope) };
    }
    case 11:
      return { shape: 'empty', body: r.pick(['', ' ', '\n', 'null', '[]', '{}', '""', '0']) };
    case 12:
      return { shape: 'github-like', body: JSON.stringify({ action: r.pick(['opened', randomText(r, 8), 3]), repository: { full_name: r.pick(['acme/ops', randomText(r, 12), null]) }, ref: 'refs/heads/main', sender: randomValue(r) }) };
    default:
      return { shape: 'kinds', body: JSON.stringify({ apiVersion: r.pick(['eventops.dev/v1', 'eventops.dev/v2', 42, null]), kind: r.pick(['Event', 'Pipeline', 'Trigger', {}, null]), type: r.pick(['t', '', null, 5]), metadata: { name: 'x' } }) };
  }
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/yaml', 'text/yaml', 'text/plain', 'application/x-www-form-urlencoded', 'application/cloudevents+json', 'multipart/form-data; boundary=zz', 'application/octet-stream', ';;;', 'json/yaml'];

function hmac(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

interface Case {
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
  shape: string;
}

function randomCase(r: Rng, token: string): Case {
  const { body, shape } = randomBody(r);
  const headers: Record<string, string> = {};
  if (r.chance(0.85)) headers['content-type'] = r.pick(CONTENT_TYPES);
  if (r.chance(0.15)) headers['content-encoding'] = r.pick(['gzip', 'br', 'deflate', 'identity', 'x-garbage']);
  if (r.chance(0.2)) headers['idempotency-key'] = `k-${r.int(20)}`;
  const sign = r.chance(0.7);
  const route = r.int(3);
  if (route === 0) {
    if (r.chance(0.9)) headers.authorization = `Bearer ${sign ? token : r.pick(['', 'nope', token.slice(1)])}`;
    return { path: '/api/v1/events', headers, body, shape };
  }
  if (route === 1) {
    if (r.chance(0.9)) headers['x-github-event'] = r.pick(['push', 'pull_request', 'ping', '', 'x'.repeat(300), 'issue_comment']);
    if (r.chance(0.9)) headers['x-github-delivery'] = `gh-${r.int(200)}`;
    if (sign) headers['x-hub-signature-256'] = `sha256=${hmac(GH_SECRET, body)}`;
    else if (r.chance(0.5)) headers['x-hub-signature-256'] = r.pick(['sha256=', 'sha1=abc', `sha256=${hmac('wrong', body)}`, 'garbage']);
    return { path: '/webhooks/github', headers, body, shape };
  }
  const receiver = r.pick(['deployer', 'deployer', 'deployer', 'alertmanager', 'alertmanager', 'missing', '%00', 'x'.repeat(200)]);
  if (receiver === 'alertmanager') headers.authorization = `Bearer ${sign ? AM_TOKEN : 'wrong'}`;
  else if (sign) headers['x-signature'] = `sha256=${hmac(HOOK_SECRET, body)}`;
  else if (r.chance(0.5)) headers['x-signature'] = r.pick(['', 'sha256=zz', hmac(HOOK_SECRET, body)]);
  if (r.chance(0.3)) headers['x-event-type'] = r.pick(['deploy', '', 'a.b.c']);
  if (r.chance(0.2)) Object.assign(headers, { 'ce-type': 'bin.t', 'ce-id': `b-${r.int(30)}`, 'ce-specversion': '1.0', 'ce-subject': 's' });
  return { path: `/webhooks/generic/${receiver}`, headers, body, shape };
}

describe(`fuzzing the intake routes (seed ${SEED}, ${CASES} cases)`, () => {
  let db: TestDatabase;
  let server: HostileServer;

  beforeAll(async () => {
    // Printed so a failing run can be replayed with FUZZ_SEED.
    console.log(`fuzz-intake: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}`);
    db = await createTestDatabase();
    server = await startHostileServer({
      configYaml: ['github: { webhookSecrets: [ { secret: GH_HOOK } ] }', 'receivers:', '  - name: deployer', '    auth: { hmac: { secret: DEPLOY_HOOK, header: X-Signature, prefix: "sha256=" } }', '  - name: alertmanager', '    auth: { bearer: { secret: AM_TOKEN } }', ''].join('\n'),
      env: { DATABASE_URL: db.url, EVENTOPS_SECRET_GH_HOOK: GH_SECRET, EVENTOPS_SECRET_DEPLOY_HOOK: HOOK_SECRET, EVENTOPS_SECRET_AM_TOKEN: AM_TOKEN },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await db?.drop();
  });

  it('answers every case without a 5xx or a hang, stores every 202, and serves afterwards', async () => {
    const r = prng(SEED);
    const cases = Array.from({ length: CASES }, () => randomCase(r, server.token));
    const health = watchHealth(server.url, { pid: server.pid, everyMs: 250 });
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    const acceptedIds = new Set<string>();
    let nextCase = 0;
    const describeCase = (n: number, c: Case) => `case ${n} (FUZZ_SEED=${SEED}): ${c.shape} → ${c.path} ${JSON.stringify(c.headers).slice(0, 300)} body ${JSON.stringify(String(c.body).slice(0, 120))}`;
    const worker = async () => {
      for (let n = nextCase++; n < cases.length; n = nextCase++) {
        const c = cases[n] as Case;
        const started = performance.now();
        try {
          const res = await fetch(`${server.url}${c.path}`, { method: 'POST', headers: c.headers, body: c.body, signal: AbortSignal.timeout(REQUEST_BOUND_MS) });
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) problems.push(`${describeCase(n, c)}: ${res.status} ${text.slice(0, 300)}`);
          if (res.status === 202) acceptedIds.add((JSON.parse(text) as { eventId: string }).eventId);
        } catch (error) {
          problems.push(`${describeCase(n, c)}: ${(error as Error).message} after ${Math.round(performance.now() - started)} ms`);
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const { worstMs, failures, peakRss } = await health.stop();
    console.log(`fuzz-intake: ${CASES} cases in ${Math.round(performance.now() - started)} ms; answers ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; worst /healthz ${worstMs} ms; peak RSS ${Math.round(peakRss / 2 ** 20)} MiB`);

    expect(problems.length, `${problems.length} cases failed; the first ones:\n${problems.slice(0, 20).join('\n')}`).toBe(0);
    expect(failures).toEqual([]);
    // Every kind of answer the routes give showed up: stored, refused, unauthenticated.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([202, 400, 401]));
    // Every event answered 202 is in the database.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from events where id = any($1::text[])', [[...acceptedIds]]);
      expect(rows[0]?.n).toBe(acceptedIds.size);
    } finally {
      await client.end();
    }
    // Still serving: health, and a plain event is stored.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const res = await fetch(`${server.url}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'after.fuzz' }) });
    expect(res.status).toBe(202);
  }, 120_000);
});
