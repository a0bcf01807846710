// The CLI's polish against the real HTTP API over a seeded PostgreSQL: `eventops status` in
// every output format, `sources reconcile --wait` saying it is still waiting while the
// reconcile runs, and refusals that say what to do (a missing scope, a route the server lacks).
import { parse } from 'yaml';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMITS, startApiFixture, type ApiFixture } from '../../test/helpers/api-fixture.js';
import { createToken, startHttpServer } from '../../webhooks/index.js';
import { run } from '../main.js';

let api: ApiFixture;
beforeAll(async () => {
  api = await startApiFixture();
});
afterAll(async () => {
  await api?.close();
});

async function eventops(argv: string[], token = api.tokens.admin): Promise<{ code: number; stdout: string; stderr: string; errAt: number[] }> {
  let stdout = '';
  let stderr = '';
  const errAt: number[] = [];
  const started = Date.now();
  const code = await run(argv, {
    out: (s) => (stdout += s),
    err: (s) => {
      stderr += s;
      errAt.push(Date.now() - started);
    },
    cwd: process.cwd(),
    env: { EVENTOPS_TOKEN: token },
  });
  return { code, stdout, stderr, errAt };
}

describe('eventops status', () => {
  it('prints runs, events and sources by status as a table, JSON or YAML; exit 1 while a source is not Ready', async () => {
    const table = await eventops(['status', '--server', api.url]);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(1);
    expect(table.stdout.split('\n')[0]).toMatch(/^KIND\s+TOTAL\s+BY STATUS$/);
    expect(table.stdout).toMatch(/^sources\s+3\s+ready 1, not ready 1, unknown 1$/m);
    expect(table.stdout).toMatch(/^runs\s+0\s+-$/m);
    const json = await eventops(['status', '-o', 'json', '--server', api.url]);
    expect(JSON.parse(json.stdout)).toMatchObject({ sources: { True: 1, False: 1, Unknown: 1 }, runs: { pending: 0 }, events: { matched: 0 } });
    const yaml = await eventops(['status', '-o', 'yaml', '--server', api.url]);
    expect(parse(yaml.stdout)).toEqual(JSON.parse(json.stdout));
    const bad = await eventops(['status', '-o', 'xml', '--server', api.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('eventops: --output must be one of: table, json, yaml (got "xml")\n');
  });
});

describe('eventops sources reconcile --wait', () => {
  it('says it is reconciling at once and again while it waits, then prints the result on stdout only', async () => {
    api.reconciler.next = async (source) => {
      await new Promise((r) => setTimeout(r, 2_600));
      return { source, outcome: 'applied', revision: COMMITS.active, conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'applied', lastTransitionTime: '2025-05-01T10:00:00.000Z' }], durationMs: 2600 };
    };
    const { code, stdout, stderr, errAt } = await eventops(['sources', 'reconcile', 'ops', '--wait', '-o', 'json', '--server', api.url]);
    expect(code).toBe(0);
    expect(stderr).toBe('reconciling ops…\nstill reconciling ops (2 s)…\n');
    // Live: the first line before the answer, the second while it was still awaited.
    expect(errAt[0]).toBeLessThan(1_000);
    expect(errAt[1]).toBeGreaterThanOrEqual(1_900);
    expect(JSON.parse(stdout)).toMatchObject({ source: 'ops', outcome: 'applied' });
  });
});

describe('refusals say what to do', () => {
  it('a token without the scope: how to get one that has it', async () => {
    const { code, stderr } = await eventops(['tokens', 'create', '--name', 'x', '--scopes', 'read', '--server', api.url], api.tokens.read);
    expect(code).toBe(1);
    expect(stderr).toMatch(/needs a token with the admin scope; the token "reader" has read \(ask an admin for a token with that scope: `eventops tokens create --name NAME --scopes SCOPE`, then set EVENTOPS_TOKEN or pass --token\)\n$/);
  });

  it('a route the server does not have: another version or a process without the api role', async () => {
    // An eventops-like server of an older version: no /api/v1/counts.
    const old = new Hono();
    old.notFound((c) => c.json({ error: { code: 'NotFound', message: `no route ${c.req.method} ${c.req.path}` } }, 404));
    const server = await startHttpServer(old, { port: 0, host: '127.0.0.1' });
    try {
      const { code, stderr } = await eventops(['status', '--server', server.url], await createToken(api.database.db, { name: 'unused', scopes: ['read'] }));
      expect(code).toBe(1);
      expect(stderr).toBe(`eventops: no route GET /api/v1/counts (the server at ${server.url} is another version of eventops than this command (\`eventops --version\`), or a process without the api role: point --server / EVENTOPS_SERVER at one that has it)\n`);
    } finally {
      await server.close();
    }
  });
});
