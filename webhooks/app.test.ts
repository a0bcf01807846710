// The HTTP API as a client sees it: a real server on a free port over a seeded PostgreSQL
// database, called with fetch.
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../schemas/database/index.js';
import { COMMITS, RecordingReconciler, seedSources, startApiFixture, type ApiFixture } from '../test/helpers/api-fixture.js';
import type { ReconcileResult } from '../reconciler/index.js';
import { createApp, isLoopbackAddress, startHttpServer } from './index.js';
import type { DefinitionPage, ErrorBody, SourceDetail, SourceSummary } from './index.js';

let api: ApiFixture;
beforeAll(async () => {
  api = await startApiFixture();
});
afterAll(async () => {
  await api?.close();
});

async function call<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${api.url}${path}`, init);
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

describe('GET /healthz', () => {
  it('answers ok with the version header', async () => {
    const { status, body, headers } = await call('/healthz');
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
  const post = (path: string, headers: Record<string, string> = {}) => call<unknown>(path, { method: 'POST', headers });

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

  it('refuses proxied requests and cross-origin pages with 403, even from loopback', async () => {
    const before = api.reconciler.calls.length;
    const refused: Record<string, string>[] = [{ 'x-forwarded-for': '127.0.0.1' }, { forwarded: 'for=203.0.113.7' }, { origin: 'https://evil.example' }];
    for (const headers of refused) {
      const { status, body } = await post('/api/v1/sources/ops/reconcile', headers);
      expect(status).toBe(403);
      expect((body as ErrorBody).error.code).toBe('Forbidden');
      expect((body as ErrorBody).error.message).toContain('loopback) only until API tokens exist');
    }
    expect(api.reconciler.calls.length).toBe(before);
    api.reconciler.next = async (source) => ({ source, outcome: 'unchanged', conditions: [], durationMs: 1 });
    expect((await post('/api/v1/sources/ops/reconcile', { origin: 'http://127.0.0.1:8080' })).status).toBe(202);
  });

  it('turns an unexpected failure into a 500 that tells the client nothing internal', async () => {
    api.reconciler.next = () => Promise.reject(new Error('password=hunter2 at /var/lib/eventops'));
    const res = await fetch(`${api.url}/api/v1/sources/ops/reconcile?wait=true`, { method: 'POST' });
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: { code: 'Internal', message: 'internal error; the server log has the details' } });
    expect(text).not.toContain('hunter2');
    expect(String(api.reported.at(-1)?.error)).toContain('hunter2');
  });
});

describe('the loopback rule', () => {
  it('accepts 127.0.0.0/8, ::1 and IPv4-mapped loopback, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.9']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of [undefined, '', '10.0.0.1', '128.0.0.1', '::ffff:10.0.0.1', '::2', 'fe80::1', '127.0.0', '127.0.0.256', '1127.0.0.1']) {
      expect(isLoopbackAddress(a), String(a)).toBe(false);
    }
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i?.family === 'IPv4' && !i.internal)?.address;

  it.skipIf(!external)('refuses a client that connects through a non-loopback address', async () => {
    const app = createApp({ db: api.database.db, reconciler: api.reconciler, version: 'x', reportError: () => undefined });
    const server = await startHttpServer(app, { port: 0 });
    try {
      const res = await fetch(`http://${external}:${server.port}/api/v1/sources/ops/reconcile`, { method: 'POST' });
      expect(res.status).toBe(403);
      expect(((await res.json()) as ErrorBody).error.message).toContain('call it from the server machine');
      expect((await fetch(`http://${external}:${server.port}/api/v1/sources`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('errors', () => {
  it('answers unknown routes with a JSON 404', async () => {
    const { status, body } = await call<ErrorBody>('/api/v1/nothing');
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'NotFound', message: 'no route GET /api/v1/nothing' } });
    expect((await call<ErrorBody>('/api/v1/sources', { method: 'DELETE' })).status).toBe(404);
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
      const app = createApp({ db: pglite.db, reconciler: new RecordingReconciler(), version: '0.0.0-test' });
      for (const [i, path] of paths.entries()) {
        const local = await app.request(path);
        expect(local.status, path).toBe(onPostgres[i]?.status);
        expect(await local.json(), path).toEqual(onPostgres[i]?.body);
      }
    } finally {
      await pglite.close();
    }
  });

  it('refuses the reconcile route when there is no socket to tell where the client is', async () => {
    const app = createApp({ db: api.database.db, reconciler: api.reconciler, version: 'x' });
    expect((await app.request('/api/v1/sources/ops/reconcile', { method: 'POST' })).status).toBe(403);
  });
});
