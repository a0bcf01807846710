// The HTTP API as a client sees it: a real server on a free port over a seeded PostgreSQL
// database, called with fetch and the fixture's tokens.
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../schemas/database/index.js';
import { bearer, COMMITS, RecordingReconciler, seedSources, startApiFixture, type ApiFixture } from '../test/helpers/api-fixture.js';
import type { ReconcileResult } from '../reconciler/index.js';
import { createApp, createToken, startHttpServer } from './index.js';
import type { DefinitionPage, ErrorBody, SourceDetail, SourceSummary, TokenInfo } from './index.js';

let api: ApiFixture;
beforeAll(async () => {
  api = await startApiFixture();
});
afterAll(async () => {
  await api?.close();
});

/** Sends the read-only token unless told another one (`null`: none). */
async function call<T>(path: string, init: RequestInit = {}, token: string | null = api.tokens.read): Promise<{ status: number; body: T; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(`${api.url}${path}`, { ...init, headers });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

describe('GET /healthz', () => {
  it('answers ok with the version header, without a token', async () => {
    const { status, body, headers } = await call('/healthz', {}, null);
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ok' });
    expect(headers.get('x-eventops-version')).toBe('0.0.0-test');
  });
});

describe('GET /api/v1/sources', () => {
  it('lists every source by name with readiness and its active revision', async () => {
    const { status, body } = await call<{ items: SourceSummary[] }>('/api/v1/sources');
    expect(status).toBe(200);
    expect(body.items.map((s) => s.name)).toEqual(['fresh', 'local', 'ops']);
    const [fresh, local, ops] = body.items;
    expect(ops).toEqual({
      name: 'ops',
      type: 'git',
      location: 'https://github.com/acme/ops-defs.git',
      ref: 'main',
      dir: 'eventops/',
      ready: 'False',
      conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'False', reason: 'ValidationFailed' })]),
      activeRevision: { commit: COMMITS.active, appliedAt: '2025-05-01T10:00:00.000Z', definitionCount: 4 },
      lastAttemptAt: '2025-05-01T10:02:00.000Z',
    });
    expect(local).toMatchObject({ type: 'local', ref: null, dir: '', ready: 'True', activeRevision: { commit: COMMITS.local, definitionCount: 1 } });
    expect(fresh).toMatchObject({ ready: 'Unknown', conditions: [], activeRevision: null, lastAttemptAt: null });
  });
});

describe('GET /api/v1/sources/:name', () => {
  it('shows the active revision, the newer invalid one with its errors, history and revisions', async () => {
    const { status, body } = await call<SourceDetail>('/api/v1/sources/ops');
    expect(status).toBe(200);
    expect(body.ready).toBe('False');
    expect(body.activeRevision).toEqual({
      id: api.ids.active,
      commit: COMMITS.active,
      appliedAt: '2025-05-01T10:00:00.000Z',
      createdAt: '2025-05-01T10:00:00.000Z',
      fileCount: 4,
      definitionCount: 4,
      warningCount: 1,
      timings: { fetch: 120, parse: 8, apply: 15 },
    });
    expect(body.lastRevision).toEqual({
      id: api.ids.invalid,
      commit: COMMITS.invalid,
      status: 'invalid',
      createdAt: '2025-05-01T10:02:00.000Z',
      errorCount: 1,
      warningCount: 1,
      errors: [{ file: 'pipelines/build.yaml', line: 12, column: 7, rule: 'unknown-field', message: 'unknown field "comands" (did you mean "commands"?)' }],
      warnings: [{ file: 'triggers/push.yaml', line: 3, column: 1, rule: 'legacy-format', message: 'converted from the original eventops format' }],
    });
    expect(body.history.map((h) => h.outcome)).toEqual(['invalid', 'applied']);
    expect(body.revisions).toEqual([
      { id: api.ids.invalid, commit: COMMITS.invalid, status: 'invalid', errorCount: 1, createdAt: '2025-05-01T10:02:00.000Z' },
      { id: api.ids.active, commit: COMMITS.active, status: 'applied', errorCount: 0, createdAt: '2025-05-01T10:00:00.000Z' },
      { id: api.ids.first, commit: COMMITS.first, status: 'applied', errorCount: 0, createdAt: '2025-05-01T09:00:00.000Z' },
    ]);
    expect(body.revisions[0]).not.toHaveProperty('diagnostics');
  });

  it('shows a never-reconciled source with empty revision fields', async () => {
    const { status, body } = await call<SourceDetail>('/api/v1/sources/fresh');
    expect(status).toBe(200);
    expect(body).toMatchObject({ ready: 'Unknown', activeRevision: null, lastRevision: null, history: [], revisions: [] });
  });

  it('answers 404 with a JSON error for an unknown source', async () => {
    const { status, body } = await call<ErrorBody>('/api/v1/sources/nope');
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'NotFound', message: 'no source named "nope"' } });
  });
});

describe('GET /api/v1/definitions', () => {
  const names = (page: DefinitionPage) => page.items.map((d) => `${d.source}/${d.kind}/${d.name}`);

  it('lists active definitions only, ordered by source, kind and name, with the commit that added each', async () => {
    const { status, body } = await call<DefinitionPage>('/api/v1/definitions');
    expect(status).toBe(200);
    expect(names(body)).toEqual(['local/Event/events/push.yaml#1', 'ops/Actuator/here', 'ops/Pipeline/build', 'ops/Pipeline/deploy', 'ops/Trigger/on-push']);
    expect(body).toMatchObject({ total: 5, limit: 100, offset: 0 });
    const deploy = body.items.find((d) => d.name === 'deploy');
    const build = body.items.find((d) => d.name === 'build');
    expect(deploy).toEqual({
      source: 'ops',
      kind: 'Pipeline',
      name: 'deploy',
      file: 'pipelines/deploy.yaml',
      line: 1,
      column: 1,
      legacy: null,
      metadata: { name: 'deploy' },
      spec: { example: 'Pipeline/deploy' },
      revision: COMMITS.active,
    });
    expect(build?.revision).toBe(COMMITS.first);
    expect(body.items.find((d) => d.name === 'on-push')?.legacy).toBe('triggerDefinition');
  });

  it('filters by kind in any case, by source and by name', async () => {
    expect(names((await call<DefinitionPage>('/api/v1/definitions?kind=pipeline')).body)).toEqual(['ops/Pipeline/build', 'ops/Pipeline/deploy']);
    expect(names((await call<DefinitionPage>('/api/v1/definitions?kind=Pipeline&name=deploy')).body)).toEqual(['ops/Pipeline/deploy']);
    const local = (await call<DefinitionPage>('/api/v1/definitions?source=local')).body;
    expect(names(local)).toEqual(['local/Event/events/push.yaml#1']);
    expect(local.total).toBe(1);
    const removed = (await call<DefinitionPage>('/api/v1/definitions?name=old')).body;
    expect(removed).toEqual({ items: [], total: 0, limit: 100, offset: 0 });
  });

  it('pages with limit and offset and reports the total', async () => {
    const { body } = await call<DefinitionPage>('/api/v1/definitions?limit=2&offset=1');
    expect(names(body)).toEqual(['ops/Actuator/here', 'ops/Pipeline/build']);
    expect(body).toMatchObject({ total: 5, limit: 2, offset: 1 });
  });

  it('answers 400 for an unknown kind, naming the allowed ones, and for bad numbers', async () => {
    const kind = await call<ErrorBody>('/api/v1/definitions?kind=Runner');
    expect(kind.status).toBe(400);
    expect(kind.body.error).toEqual({ code: 'BadRequest', message: 'unknown kind "Runner": use one of Actuator, Pipeline, Trigger, Event' });
    for (const query of ['limit=1001', 'limit=-1', 'limit=ten', 'offset=1.5', 'limit=1e3']) {
      const bad = await call<ErrorBody>(`/api/v1/definitions?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.error.message, query).toMatch(/^(limit must be a whole number from 0 to 1000|offset must be a whole number 0 or more) \(got "/);
    }
    expect((await call<ErrorBody>('/api/v1/definitions?limit=1001')).body.error.message).toBe('limit must be a whole number from 0 to 1000 (got "1001")');
    expect((await call<DefinitionPage>('/api/v1/definitions?limit=1000')).status).toBe(200);
  });
});

describe('POST /api/v1/sources/:name/reconcile', () => {
  const post = (path: string, token: string | null = api.tokens.admin) => call<unknown>(path, { method: 'POST' }, token);

  it('answers 202 at once and leaves the reconcile running', async () => {
    let finish: (r: ReconcileResult) => void = () => undefined;
    api.reconciler.next = (source) => new Promise((resolve) => (finish = (r) => resolve({ ...r, source })));
    const before = api.reconciler.calls.length;
    const { status, body } = await post('/api/v1/sources/ops/reconcile');
    expect(status).toBe(202);
    expect(body).toEqual({ accepted: true, source: 'ops' });
    expect(api.reconciler.calls.slice(before)).toEqual(['ops']);
    finish({ source: 'ops', outcome: 'unchanged', conditions: [], durationMs: 1 });
  });

  it('reports a failed reconcile nobody waits for instead of leaving it unhandled', async () => {
    api.reconciler.next = () => Promise.reject(new Error('git exploded'));
    const { status } = await post('/api/v1/sources/local/reconcile');
    expect(status).toBe(202);
    await expect.poll(() => api.reported.map((r) => r.context)).toContain('reconcile of source "local"');
    expect(String(api.reported.at(-1)?.error)).toContain('git exploded');
  });

  it('with wait=true answers the result of the reconcile', async () => {
    api.reconciler.next = async (source) => ({ source, outcome: 'invalid', revision: COMMITS.invalid, conditions: [], durationMs: 33 });
    const { status, body } = await post('/api/v1/sources/ops/reconcile?wait=true');
    expect(status).toBe(200);
    expect(body).toEqual({ source: 'ops', outcome: 'invalid', revision: COMMITS.invalid, conditions: [], durationMs: 33 });
  });

  it('answers 404 for a source that is not configured, without calling the reconciler', async () => {
    const before = api.reconciler.calls.length;
    const { status, body } = await post('/api/v1/sources/nope/reconcile?wait=true');
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'NotFound', message: 'no source named "nope"' } });
    expect(api.reconciler.calls.length).toBe(before);
  });

  it('answers 400 for a wait value that is neither true nor false', async () => {
    expect((await post('/api/v1/sources/ops/reconcile?wait=soon')).status).toBe(400);
  });

  it('needs the admin scope: no token is a 401, a read-only or events:write token a 403', async () => {
    const before = api.reconciler.calls.length;
    const anonymous = await post('/api/v1/sources/ops/reconcile', null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((anonymous.body as ErrorBody).error.code).toBe('Unauthorized');
    const reader = await post('/api/v1/sources/ops/reconcile', api.tokens.read);
    expect(reader.status).toBe(403);
    expect(reader.body).toEqual({ error: { code: 'Forbidden', message: 'POST /api/v1/sources/ops/reconcile needs a token with the admin scope; the token "reader" has read' } });
    const ci = await createToken(api.database.db, { name: 'reconcile-ci', scopes: ['events:write', 'runs:write'] });
    expect((await post('/api/v1/sources/ops/reconcile?wait=true', ci)).status).toBe(403);
    expect(api.reconciler.calls.length).toBe(before);
  });

  it('turns an unexpected failure into a 500 that tells the client nothing internal', async () => {
    api.reconciler.next = () => Promise.reject(new Error('password=hunter2 at /var/lib/eventops'));
    const res = await fetch(`${api.url}/api/v1/sources/ops/reconcile?wait=true`, { method: 'POST', headers: bearer(api.tokens.admin) });
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: { code: 'Internal', message: 'internal error; the server log has the details' } });
    expect(text).not.toContain('hunter2');
    expect(String(api.reported.at(-1)?.error)).toContain('hunter2');
  });
});

describe('API tokens', () => {
  it('answers every /api/v1 route 401 without a token, saying how to send one', async () => {
    for (const path of ['/api/v1/sources', '/api/v1/sources/ops', '/api/v1/definitions', '/api/v1/tokens', '/api/v1/nothing']) {
      const { status, body, headers } = await call<ErrorBody>(path, {}, null);
      expect(status, path).toBe(401);
      expect(headers.get('www-authenticate'), path).toBe('Bearer');
      expect(body.error.code, path).toBe('Unauthorized');
      expect(body.error.message, path).toContain('send Authorization: Bearer <token>');
      expect(body.error.message, path).toContain('.eventops/admin-token');
    }
  });

  it('answers 401 for an unknown token or another scheme, and never echoes what was sent', async () => {
    const unknown = await call<ErrorBody>('/api/v1/sources', {}, 'eo_not-a-real-token');
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toMatch(/^the token sent is not known to this server/);
    expect(JSON.stringify(unknown.body)).not.toContain('eo_not-a-real-token');
    const basic = await call<ErrorBody>('/api/v1/sources', { headers: { authorization: `Basic ${Buffer.from(`x:${api.tokens.admin}`).toString('base64')}` } }, null);
    expect(basic.status).toBe(401);
    expect(basic.body.error.message).toMatch(/^the Authorization header is not of the form Bearer <token>/);
  });

  it('lets any valid token read, whatever its scopes', async () => {
    const ci = await createToken(api.database.db, { name: 'reader-ci', scopes: ['events:write'] });
    expect((await call<unknown>('/api/v1/sources', {}, ci)).status).toBe(200);
    expect((await call<unknown>('/api/v1/definitions', {}, api.tokens.admin)).status).toBe(200);
  });

  it('with anonymousRead lets GETs of the read-only routes through, but not the reconcile request or the tokens', async () => {
    const app = createApp({ db: api.database.db, reconciler: api.reconciler, version: 'x', anonymousRead: true, reportError: () => undefined });
    const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' });
    try {
      const sources = await fetch(`${server.url}/api/v1/sources`);
      expect(sources.status).toBe(200);
      expect(((await sources.json()) as { items: SourceSummary[] }).items.map((s) => s.name)).toEqual(['fresh', 'local', 'ops']);
      expect((await fetch(`${server.url}/api/v1/definitions?kind=pipeline`)).status).toBe(200);
      expect((await fetch(`${server.url}/api/v1/tokens`)).status).toBe(401);
      const before = api.reconciler.calls.length;
      expect((await fetch(`${server.url}/api/v1/sources/ops/reconcile`, { method: 'POST' })).status).toBe(401);
      expect((await fetch(`${server.url}/api/v1/sources/ops/reconcile`, { method: 'POST', headers: bearer(api.tokens.read) })).status).toBe(403);
      expect(api.reconciler.calls.length).toBe(before);
      // A token that is sent is checked, even where none is needed.
      expect((await fetch(`${server.url}/api/v1/sources`, { headers: bearer('eo_wrong') })).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i?.family === 'IPv4' && !i.internal)?.address;

  it.skipIf(!external)('guards a server open to the network: a client elsewhere needs a token, and the admin one works', async () => {
    const app = createApp({ db: api.database.db, reconciler: api.reconciler, version: 'x', reportError: () => undefined });
    const server = await startHttpServer(app, { port: 0 });
    try {
      const base = `http://${external}:${server.port}`;
      expect((await fetch(`${base}/api/v1/sources`)).status).toBe(401);
      expect((await fetch(`${base}/api/v1/sources/ops/reconcile`, { method: 'POST' })).status).toBe(401);
      expect((await fetch(`${base}/api/v1/sources`, { headers: bearer(api.tokens.read) })).status).toBe(200);
      api.reconciler.next = async (source) => ({ source, outcome: 'unchanged', conditions: [], durationMs: 1 });
      expect((await fetch(`${base}/api/v1/sources/ops/reconcile`, { method: 'POST', headers: bearer(api.tokens.admin) })).status).toBe(202);
    } finally {
      await server.close();
    }
  });
});

describe('/api/v1/tokens', () => {
  const make = (body: unknown, token: string | null = api.tokens.admin) =>
    call<{ name: string; scopes: string[]; token: string } & ErrorBody>('/api/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, token);

  it('makes a token with an admin token, answers it once, and the token works for its scopes', async () => {
    const { status, body, headers } = await make({ name: 'ci', scopes: ['events:write', 'runs:write'] });
    expect(status).toBe(201);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(body).toEqual({ name: 'ci', scopes: ['events:write', 'runs:write'], token: expect.stringMatching(/^eo_[A-Za-z0-9_-]{43}$/) });
    expect((await call<unknown>('/api/v1/sources', {}, body.token)).status).toBe(200);
    expect((await call<unknown>('/api/v1/sources/ops/reconcile', { method: 'POST' }, body.token)).status).toBe(403);
    const admin2 = await make({ name: 'second-admin', scopes: ['admin', 'admin'] });
    expect(admin2.body.scopes).toEqual(['admin']);
    api.reconciler.next = async (source) => ({ source, outcome: 'unchanged', conditions: [], durationMs: 1 });
    expect((await call<unknown>('/api/v1/sources/ops/reconcile', { method: 'POST' }, admin2.body.token)).status).toBe(202);
  });

  it('answers 409 for a name that is taken', async () => {
    expect((await make({ name: 'twice', scopes: ['read'] })).status).toBe(201);
    const again = await make({ name: 'twice', scopes: ['admin'] });
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual({ code: 'Conflict', message: 'a token named "twice" exists already: pick another name' });
  });

  it('answers 400 naming what is wrong with the request', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: 'CI', scopes: ['read'] }, 'name must be lowercase letters, digits and "-", at most 63 (got "CI")'],
      [{ name: 'x'.repeat(64), scopes: ['read'] }, 'name must be lowercase letters, digits and "-", at most 63'],
      [{ name: 'ci-x', scopes: [] }, 'scopes must be a non-empty list: use one or more of read, events:write, runs:write, admin, or agent:<id> for an agent'],
      [{ name: 'ci-x', scopes: ['events:read', 'read'] }, 'unknown scope "events:read": use one or more of read, events:write, runs:write, admin, or agent:<id> for an agent'],
      [{ name: 'ci-x', scope: ['read'] }, 'unknown field "scope"; allowed: name, scopes'],
      [['ci-x'], 'the body must be a JSON object'],
    ];
    for (const [body, message] of cases) {
      const res = await make(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('BadRequest');
      expect(res.body.error.message, JSON.stringify(body)).toContain(message);
    }
    const notJson = await call<ErrorBody>('/api/v1/tokens', { method: 'POST', body: 'name=ci' }, api.tokens.admin);
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.message).toContain('the body must be JSON');
    expect((await call<TokenInfo[]>('/api/v1/tokens', {}, api.tokens.admin)).status).toBe(200);
    const listed = (await call<{ items: TokenInfo[] }>('/api/v1/tokens', {}, api.tokens.admin)).body.items.map((t) => t.name);
    expect(listed).not.toContain('ci-x');
  });

  it('lists names, scopes and dates, never a token or its hash', async () => {
    const { status, body } = await call<{ items: TokenInfo[] }>('/api/v1/tokens', {}, api.tokens.admin);
    expect(status).toBe(200);
    const admin = body.items.find((t) => t.name === 'admin');
    expect(admin).toEqual({ name: 'admin', scopes: ['admin'], createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), lastUsedAt: expect.stringMatching(/^\d{4}-/) });
    expect(body.items.find((t) => t.name === 'reader')).toMatchObject({ scopes: ['read'] });
    expect(body.items.map((t) => t.name)).toEqual([...body.items.map((t) => t.name)].sort());
    const text = JSON.stringify(body);
    expect(text).not.toContain(api.tokens.admin);
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    expect(Object.keys(admin ?? {}).sort()).toEqual(['createdAt', 'lastUsedAt', 'name', 'scopes']);
  });

  it('is for admin tokens only', async () => {
    expect((await make({ name: 'sneaky', scopes: ['admin'] }, api.tokens.read)).status).toBe(403);
    const list = await call<ErrorBody>('/api/v1/tokens', {}, api.tokens.read);
    expect(list.status).toBe(403);
    expect(list.body.error.message).toBe('GET /api/v1/tokens needs a token with the admin scope; the token "reader" has read');
    expect((await make({ name: 'sneaky', scopes: ['admin'] }, null)).status).toBe(401);
  });
});

describe('errors', () => {
  it('answers unknown routes with a JSON 404', async () => {
    const { status, body } = await call<ErrorBody>('/api/v1/nothing');
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'NotFound', message: 'no route GET /api/v1/nothing' } });
    expect((await call<ErrorBody>('/api/v1/sources', { method: 'DELETE' })).status).toBe(404);
    expect((await call<ErrorBody>('/nothing', {}, null)).status).toBe(404);
  });
});

describe('startHttpServer', () => {
  it('rejects when the port is taken and closes idempotently with keep-alive clients connected', async () => {
    const app = createApp({ db: api.database.db, reconciler: api.reconciler, version: 'x' });
    const port = Number(new URL(api.url).port);
    await expect(startHttpServer(app, { port, host: '127.0.0.1' })).rejects.toThrow(/EADDRINUSE/);
    const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const started = Date.now();
    await Promise.all([server.close(), server.close()]);
    await server.close();
    // Waiting for fetch's idle keep-alive connection to time out would take seconds.
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe('on the embedded PGlite', () => {
  it('answers every read route exactly as on PostgreSQL', async () => {
    const paths = ['/api/v1/sources', '/api/v1/sources/ops', '/api/v1/sources/fresh', '/api/v1/definitions', '/api/v1/definitions?kind=PIPELINE&limit=1&offset=1', '/api/v1/definitions?kind=nope'];
    // Asked first: starting PGlite blocks the event loop long enough for an idle keep-alive
    // connection to be closed under fetch's feet.
    const onPostgres = await Promise.all(paths.map(async (path) => call<unknown>(path)));
    const pglite = await openDatabase({ dataDir: '', inMemory: true });
    try {
      await seedSources(pglite.db);
      const token = await createToken(pglite.db, { name: 'reader', scopes: ['read'] });
      const app = createApp({ db: pglite.db, reconciler: new RecordingReconciler(), version: '0.0.0-test' });
      for (const [i, path] of paths.entries()) {
        const local = await app.request(path, { headers: bearer(token) });
        expect(local.status, path).toBe(onPostgres[i]?.status);
        expect(await local.json(), path).toEqual(onPostgres[i]?.body);
      }
    } finally {
      await pglite.close();
    }
  });

  it('checks tokens and scopes as on PostgreSQL', async () => {
    const pglite = await openDatabase({ dataDir: '', inMemory: true });
    try {
      const admin = await createToken(pglite.db, { name: 'admin', scopes: ['admin'] });
      const reader = await createToken(pglite.db, { name: 'reader', scopes: ['read'] });
      const reconciler = new RecordingReconciler();
      const app = createApp({ db: pglite.db, reconciler, version: 'x' });
      const reconcile = (headers: Record<string, string> = {}) => app.request('/api/v1/sources/ops/reconcile', { method: 'POST', headers });
      expect((await reconcile()).status).toBe(401);
      expect((await reconcile(bearer(reader))).status).toBe(403);
      expect((await reconcile(bearer(api.tokens.admin))).status).toBe(401);
      expect(reconciler.calls).toEqual([]);
      expect((await reconcile(bearer(admin))).status).toBe(202);
      expect(reconciler.calls).toEqual(['ops']);
    } finally {
      await pglite.close();
    }
  });
});
