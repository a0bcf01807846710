// `GET /api/v1/counts` over a real, seeded PostgreSQL: runs and events by status (every status
// present, 0 when none), sources by their Ready condition, moving when rows change; read access
// by token like the other read routes.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, runs, sources } from '../../schemas/database/index.js';
import { bearer, startApiFixture, type ApiFixture } from '../../test/helpers/api-fixture.js';
import type { CountsAnswer } from './counts-routes.js';

describe('GET /api/v1/counts', () => {
  let api: ApiFixture;
  const counts = async (): Promise<CountsAnswer> => {
    const res = await fetch(`${api.url}/api/v1/counts`, { headers: bearer(api.tokens.read) });
    expect(res.status).toBe(200);
    return (await res.json()) as CountsAnswer;
  };

  beforeAll(async () => {
    api = await startApiFixture();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('counts runs and events by status and sources by their Ready condition', async () => {
    const empty = await counts();
    expect(empty.runs).toEqual({ pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, timed_out: 0 });
    expect(empty.events).toEqual({ received: 0, matched: 0, unmatched: 0, failed: 0 });
    // The fixture's sources: ops not ready (its newest revision is invalid), local ready, fresh never reconciled.
    expect(empty.sources).toEqual({ True: 1, False: 1, Unknown: 1 });

    const db = api.database.db;
    await db.insert(events).values([
      { id: 'e0000000-0000-4000-8000-000000000001', source: 'api', type: 'a', status: 'matched' },
      { id: 'e0000000-0000-4000-8000-000000000002', source: 'api', type: 'a', status: 'matched' },
      { id: 'e0000000-0000-4000-8000-000000000003', source: 'github', type: 'push', status: 'unmatched' },
      { id: 'e0000000-0000-4000-8000-000000000004', source: 'github', type: 'push' },
    ]);
    const run = (id: string, status: string, pipelineIndex: number) => ({ id, source: 'ops', trigger: 'on-push', pipeline: 'build', pipelineIndex, revisionId: api.ids.active, eventId: 'e0000000-0000-4000-8000-000000000001', status });
    await db.insert(runs).values([run('r1', 'succeeded', 0), run('r2', 'failed', 1), run('r3', 'running', 2), run('r4', 'succeeded', 3)]);
    await db.update(sources).set({ conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'applied', lastTransitionTime: '2025-05-01T10:00:00.000Z' }] }).where(eq(sources.name, 'fresh'));

    const after = await counts();
    expect(after.runs).toEqual({ pending: 0, running: 1, succeeded: 2, failed: 1, cancelled: 0, timed_out: 0 });
    expect(after.events).toEqual({ received: 1, matched: 2, unmatched: 1, failed: 0 });
    expect(after.sources).toEqual({ True: 2, False: 1, Unknown: 0 });
  });

  it('needs a token like the other read routes', async () => {
    const res = await fetch(`${api.url}/api/v1/counts`);
    expect(res.status).toBe(401);
  });
});
