// Hostile YAML against a real `eventops serve` (issue 20 items 3 and 11): an alias bomb posted
// to /api/v1/events with an events:write token is a 400 naming its line, within a second; the
// same bomb written into a folder source is an invalid revision whose error names file:line,
// and a symlink from the folder to a secret outside it is a diagnostic that quotes nothing of
// the secret. /healthz answers within 1 s throughout and the server keeps serving.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_BOMB } from '../helpers/alias-bomb.js';
import { startHostileServer, watchHealth, type HealthWatch, type HostileServer } from './harness.js';

const HELLO = 'apiVersion: eventops.dev/v1\nkind: Event\ntype: hello\nbody: { name: ops }\n';
/** Memory the server may grow by through all of this, over what it used after start-up (~850 MB here, its embedded database in-process). */
const RSS_GROWTH = 256 * 1024 * 1024;

let server: HostileServer;
let health: HealthWatch;
let folder: string;
let outside: string;
let writer: string;
let baseRss: number;

async function api(path: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  // The old code answered the bomb after about a minute: this bound makes that a failure, not a hang.
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${init.token ?? server.token}`, ...init.headers }, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null, ms: performance.now() - started };
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'eventops-hostile-defs-'));
  outside = mkdtempSync(join(tmpdir(), 'eventops-hostile-outside-'));
  writeFileSync(join(folder, 'hello.yaml'), HELLO);
  server = await startHostileServer({ configYaml: `sources:\n  - { name: defs, path: ${folder}, interval: 1h }\n` });
  baseRss = server.rss();
  health = watchHealth(server.url, { pid: server.pid });
  const made = await api('/api/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'writer', scopes: ['events:write'] }) });
  expect(made.status).toBe(201);
  writer = (made.body as { token: string }).token;
}, 120_000);

afterAll(async () => {
  await health?.stop();
  await server?.close();
  rmSync(folder, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('hostile YAML', () => {
  it('answers an alias-bomb event with a 400 naming the line, within a second', async () => {
    const res = await api('/api/v1/events', { method: 'POST', token: writer, headers: { 'content-type': 'application/yaml' }, body: EVENT_BOMB });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/line 8, column 10: too many YAML aliases/);
    expect(res.ms).toBeLessThan(1000);
    // An ordinary YAML event is still taken.
    const ok = await api('/api/v1/events', { method: 'POST', token: writer, headers: { 'content-type': 'application/yaml' }, body: HELLO });
    expect(ok.status).toBe(202);
  });

  it('shows a bomb in a folder source as an invalid revision at file:line, and a symlink out of the folder without its content', async () => {
    writeFileSync(join(outside, 'shadow'), 'root:$6$saltsalt$hashedpasswordhashed:19000:0:99999:7:::\n"unclosed: [\n');
    symlinkSync(join(outside, 'shadow'), join(folder, 'shadow.yaml'));
    writeFileSync(join(folder, 'bomb.yaml'), EVENT_BOMB);
    const reconcile = await api('/api/v1/sources/defs/reconcile?wait=true', { method: 'POST' });
    expect(reconcile.status).toBe(200);
    expect(reconcile.body).toMatchObject({ outcome: 'invalid' });
    expect(reconcile.ms).toBeLessThan(5000);
    const detail = await api('/api/v1/sources/defs');
    expect(detail.status).toBe(200);
    const errors = (detail.body as { lastRevision: { errors: { file: string; line: number; rule: string; message: string }[] } }).lastRevision.errors;
    expect(errors.map((e) => `${e.file}:${e.line} ${e.rule}`)).toEqual(['bomb.yaml:8 yaml-aliases', 'shadow.yaml:1 unreadable-file']);
    expect(errors[1]?.message).toMatch(/^shadow\.yaml: is a symbolic link to a path outside the source folder; not read/);
    expect(JSON.stringify(detail.body)).not.toMatch(/hashedpassword|root:/);
  });

  it('kept /healthz under a second and memory bounded throughout, and still serves', async () => {
    const ok = await api('/api/v1/events', { method: 'POST', token: writer, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'eventops.dev/v1', kind: 'Event', type: 'hello' }) });
    expect(ok.status).toBe(202);
    const watched = await health.stop();
    expect(watched.failures).toEqual([]);
    expect(watched.samples).toBeGreaterThan(0);
    expect(watched.worstMs).toBeLessThan(1000);
    expect(watched.peakRss - baseRss).toBeLessThan(RSS_GROWTH);
  });
});
