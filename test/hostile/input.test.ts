// Bad event input against a real `eventops serve` on PostgreSQL: a NUL in `type`, `subject` or a
// label, lone surrogates through every intake (the API, the GitHub receiver, a generic receiver,
// signed correctly so they get past authentication), CloudEvents `data_base64` that is not text,
// JSON 5,000 deep, documents of another kind or version. Each is a 400 that says what and where;
// valid events sent around them are all stored; /healthz answers within 1 s throughout; and a
// refused 5 MB body does not fill the log.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startHostileServer, watchHealth, type HealthWatch, type HostileServer } from './harness.js';

const GH_SECRET = 'hostile-github-secret';
const HOOK_SECRET = 'hostile-hook-secret';

describe('hostile event input', () => {
  let pg: TestDatabase;
  let server: HostileServer;
  let health: HealthWatch;
  /** Events answered 202: each must be stored. */
  const accepted: string[] = [];

  beforeAll(async () => {
    pg = await createTestDatabase();
    server = await startHostileServer({
      // A depth limit of its own, so the answers show the configured value is the one used.
      configYaml: ['limits: { http: { maxDepth: 64 } }', 'github: { webhookSecrets: [ { secret: GH_HOOK } ] }', 'receivers:', '  - name: deployer', '    auth: { hmac: { secret: DEPLOY_HOOK, header: X-Signature, prefix: "sha256=" } }', ''].join('\n'),
      env: { DATABASE_URL: pg.url, EVENTOPS_SECRET_GH_HOOK: GH_SECRET, EVENTOPS_SECRET_DEPLOY_HOOK: HOOK_SECRET },
    });
    health = watchHealth(server.url, { pid: server.pid });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await pg?.drop();
  });

  const hmac = (secret: string, body: string | Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  type Answer = { status: number; error?: { code: string; message: string }; eventId?: string };
  const send = async (path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
    const json = (await res.json()) as Omit<Answer, 'status'>;
    if (res.status === 202 && json.eventId) accepted.push(json.eventId);
    return { status: res.status, ...json };
  };
  const api = (body: string | Buffer, contentType = 'application/json') => send('/api/v1/events', body, { authorization: `Bearer ${server.token}`, 'content-type': contentType });
  const github = (body: string | Buffer, signature: string | null = hmac(GH_SECRET, body)) =>
    send('/webhooks/github', body, { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `d-${Math.random()}`, ...(signature ? { 'x-hub-signature-256': signature } : {}) });
  const generic = (body: string | Buffer, signature: string = hmac(HOOK_SECRET, body)) => send('/webhooks/generic/deployer', body, { 'content-type': 'application/json', 'x-signature': signature });
  /** A valid event on every intake, between the hostile ones: all of them must be stored. */
  const valid = async () => {
    expect((await api(JSON.stringify({ type: 'ok', subject: 's', labels: { env: 'e' }, body: { text: 'emoji 😀 and ü' } }))).status).toBe(202);
    expect((await github(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/ops' } }))).status).toBe(202);
    expect((await generic(JSON.stringify({ specversion: '1.0', type: 'deployed', source: '/ci', id: `ce-${Math.random()}`, data_base64: Buffer.from('plain text').toString('base64') }))).status).toBe(202);
  };
  const refused = async (answer: Promise<Answer>, status: number, message: RegExp) => {
    const { status: got, error } = await answer;
    expect({ status: got, message: error?.message }).toEqual({ status, message: expect.stringMatching(message) });
    await valid();
  };

  it('refuses a NUL in type, subject, a label value or key, naming the field (400)', async () => {
    await refused(api(JSON.stringify({ type: 'deploy\u0000' })), 400, /^type contains a NUL character \(\\u0000\) at character 6/);
    await refused(api(JSON.stringify({ type: 't', subject: 'a\u0000' })), 400, /^subject contains a NUL/);
    await refused(api(JSON.stringify({ type: 't', labels: { env: 'prod\u0000' } })), 400, /^labels\.env contains a NUL/);
    await refused(api(JSON.stringify({ type: 't', labels: { ['e\u0000']: 'x' } })), 400, /^labels\["e\\u0000"\] \(a key\) contains a NUL/);
    // YAML's "\0" escape is a NUL too.
    await refused(api('type: "deploy\\0"\n', 'application/yaml'), 400, /^type contains a NUL/);
  });

  it('refuses lone surrogates on every intake, after a correct signature (400), and checks the signature first (401)', async () => {
    const lone = '{"type":"t","body":{"items":["ok","\\ud800"]}}';
    await refused(api(lone), 400, /^body\.items\[1\] contains a lone surrogate \(\\ud800/);
    await refused(api('type: t\nsubject: "\\udc00"\n', 'application/yaml'), 400, /^subject contains a lone surrogate/);
    await refused(github('{"action":"x","text":"\\ud800"}'), 400, /^body\.text contains a lone surrogate/);
    await refused(github('{"action":"\\ud800"}', hmac('wrong', 'x')), 401, /signature does not match/);
    await refused(generic('{"note":"\\udfff"}'), 400, /^body\.note contains a lone surrogate/);
    await refused(generic('{"note":"\\u0000"}'), 400, /^body\.note contains a NUL/);
    await refused(generic('{"note":"\\ud800"}', 'sha256=00'), 401, /signature does not match/);
  });

  it('refuses CloudEvents data_base64 that is not UTF-8 text or holds a NUL (400)', async () => {
    const ce = (bytes: Buffer) => JSON.stringify({ specversion: '1.0', type: 't', source: '/x', id: `i-${Math.random()}`, data_base64: bytes.toString('base64') });
    await refused(api(ce(Buffer.from('a\u0000b'))), 400, /^`data_base64` decodes to text with a NUL byte \(at byte 1\)/);
    await refused(api(ce(Buffer.from([0xc3, 0x28, 0xff]))), 400, /^`data_base64` decodes to bytes that are not UTF-8 text/);
  });

  it('refuses JSON nested 5,000 deep on every intake, naming the limit (400)', async () => {
    const deep = `{"type":"t","body":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    await refused(api(deep), 400, /^the document is nested deeper than 64 levels of objects and lists \(limits\.http\.maxDepth\), at body/);
    await refused(api(deep, 'application/yaml'), 400, /nest(ed deeper than 64 levels|ed too deeply to read|ing exceeded maxDepth \(\d+\))/);
    await refused(github(deep), 400, /^body is nested deeper than 64 levels/);
    await refused(generic(deep), 400, /^body is nested deeper than 64 levels/);
    // The limit itself is fine: the document is 64 deep (the event, then its body 63).
    expect((await api(`{"type":"t","body":${'['.repeat(63)}${']'.repeat(63)}}`)).status).toBe(202);
    expect((await api(`{"type":"t","body":${'['.repeat(64)}${']'.repeat(64)}}`)).status).toBe(400);
  });

  it('takes only kind Event of eventops.dev/v1 on /api/v1/events (400 saying what it takes)', async () => {
    await refused(api('apiVersion: eventops.dev/v1\nkind: Pipeline\ntype: t\n', 'application/yaml'), 400, /^this is a `kind: Pipeline` document, not an event; this takes an Event \(apiVersion eventops\.dev\/v1, kind Event/);
    await refused(api(JSON.stringify({ apiVersion: 'eventops.dev/v2', kind: 'Event', type: 't' })), 400, /^apiVersion "eventops\.dev\/v2" is not one this server knows; this takes an Event/);
    // What it does take: a v1 Event, the same fields as plain JSON, a CloudEvents envelope.
    expect((await api('apiVersion: eventops.dev/v1\nkind: Event\ntype: t\n', 'application/yaml')).status).toBe(202);
    expect((await api(JSON.stringify({ type: 't', body: { a: 1 } }))).status).toBe(202);
    expect((await api(JSON.stringify({ specversion: '1.0', type: 't', source: '/s', id: `c-${Math.random()}`, data: { a: 1 } }))).status).toBe(202);
  });

  it('refuses a 5 MB body with a NUL without writing it to the log', async () => {
    const big = JSON.stringify({ type: 't', body: { text: `${'x'.repeat(5 * 1024 * 1024 - 100)}\u0000` } });
    await refused(api(big), 400, /^body\.text contains a NUL character/);
  });

  it('stored every event it accepted, answered /healthz within 1 s throughout, and still serves', async () => {
    const { worstMs, failures, samples } = await health.stop();
    expect(failures).toEqual([]);
    expect(samples).toBeGreaterThan(5);
    expect(worstMs).toBeLessThan(1000);
    expect(accepted.length).toBeGreaterThan(40);
    for (const id of accepted) {
      const res = await fetch(`${server.url}/api/v1/events/${id}`, { headers: { authorization: `Bearer ${server.token}` } });
      expect(res.status, id).toBe(200);
      await res.arrayBuffer();
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // Nothing above is a server error, so the log stays small (a refused insert logged 15 MB before).
    expect(server.output().length).toBeLessThan(64 * 1024);
  });
});
