// Bodies read through one shared budget (readRawBody under bodyBudgetMiddleware): a declared body
// that does not fit is refused before it is read, a chunked one as it passes the budget, a stalled
// one at the timeout, and every byte counted is given back once the request is answered.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../config/index.js';
import { ApiError } from '../api/index.js';
import { bodyBudgetMiddleware, createBodyBudget } from './body-budget.js';
import { readRawBody } from './raw-body.js';

const limits = { ...DEFAULT_LIMITS.http, maxBodyBytes: 2_000, bodyBytesInFlight: 1_000, bodyTimeoutMs: 300 };

function appWith(budget = createBodyBudget(limits)) {
  const app = new Hono();
  app.use(bodyBudgetMiddleware(budget));
  app.post('/body', async (c) => c.json({ bytes: (await readRawBody(c)).length }));
  app.onError((error, c) => (error instanceof ApiError ? c.json({ code: error.code }, error.status) : c.json({ error: String(error) }, 500)));
  return { app, budget };
}

/** A body of `chunks` pieces of `size` bytes, without a declared length; `stall` never ends it. */
function stream(chunks: number, size: number, stall = false): RequestInit {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull: (controller) => {
        if (sent === chunks) {
          if (!stall) controller.close();
          return stall ? new Promise(() => undefined) : undefined;
        }
        sent++;
        controller.enqueue(new Uint8Array(size));
        return undefined;
      },
    },
    { highWaterMark: 0 },
  );
  return { method: 'POST', body, duplex: 'half' } as RequestInit;
}

describe('bodies in flight', () => {
  it('reads a body that fits and gives its bytes back', async () => {
    const { app, budget } = appWith();
    const res = await app.request('/body', { method: 'POST', body: 'x'.repeat(900) });
    expect(await res.json()).toEqual({ bytes: 900 });
    expect(budget.inFlight()).toBe(0);
  });

  it('refuses a declared body that would pass the budget with 503 and Retry-After, before reading it', async () => {
    const { app, budget } = appWith();
    const held = budget.allowance();
    expect(held.take(500)).toBe(true);
    const res = await app.request('/body', { method: 'POST', headers: { 'content-length': '600' }, body: 'x'.repeat(600) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    held.release();
    expect(budget.inFlight()).toBe(0);
  });

  it('counts a chunked body as it arrives: 503 once it passes the budget, 413 past maxBodyBytes', async () => {
    const { app, budget } = appWith();
    expect((await app.request('/body', stream(15, 100))).status).toBe(503);
    expect(budget.inFlight()).toBe(0);
    const big = appWith(createBodyBudget({ ...limits, bodyBytesInFlight: 10_000 }));
    expect((await big.app.request('/body', stream(25, 100))).status).toBe(413);
    expect((await big.app.request('/body', stream(15, 100))).status).toBe(200);
    expect(big.budget.inFlight()).toBe(0);
  });

  it('answers 408 when the body stops arriving', async () => {
    const { app, budget } = appWith();
    const started = performance.now();
    const res = await app.request('/body', stream(2, 100, true));
    expect(res.status).toBe(408);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(budget.inFlight()).toBe(0);
  });
});
