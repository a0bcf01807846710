// The routes a platform probes, outside `/api/v1` and without a token: `/healthz` (liveness:
// the process answers), `/readyz` (readiness: the database and the queue answer within a
// deadline; 503 naming what failed otherwise) and `/metrics` (Prometheus text). Every process
// serves them, whatever its roles. Answers say which dependency failed, never its address or
// credentials.
import { Hono } from 'hono';
import type { Metrics } from '../../metrics/index.js';

/** One dependency /readyz asks: resolves when it answers, rejects (or outlives the deadline) when not. */
export interface ReadinessCheck {
  name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface ProbeDeps {
  version: string;
  /** Asked in parallel by `/readyz`. None: `/readyz` answers like `/healthz`. */
  readiness?: readonly ReadinessCheck[];
  /** How long /readyz waits for each dependency; default 2 s. */
  readinessTimeoutMs?: number;
  /** Absent: `/metrics` is not served. */
  metrics?: Pick<Metrics, 'render'>;
}

export interface ReadinessAnswer {
  status: 'ready' | 'unready';
  checks: Record<string, { ok: true; ms: number } | { ok: false; ms: number; error: string }>;
}

export function probeRoutes(deps: ProbeDeps): Hono {
  const routes = new Hono();
  const timeoutMs = deps.readinessTimeoutMs ?? 2_000;
  // Headers set per route: a middleware of this sub-application would run for every route of the app it is mounted in.
  const headers = { 'x-eventops-version': deps.version, 'cache-control': 'no-store' };
  routes.get('/healthz', (c) => c.json({ status: 'ok' }, 200, headers));
  routes.get('/readyz', async (c) => {
    const results = await Promise.all((deps.readiness ?? []).map(async (r) => [r.name, await ask(r, timeoutMs)] as const));
    const answer: ReadinessAnswer = { status: results.every(([, r]) => r.ok) ? 'ready' : 'unready', checks: Object.fromEntries(results) };
    return c.json(answer, answer.status === 'ready' ? 200 : 503, headers);
  });
  const { metrics } = deps;
  if (metrics) {
    routes.get('/metrics', async (c) => {
      const { contentType, text } = await metrics.render();
      return c.body(text, 200, { ...headers, 'content-type': contentType });
    });
  }
  return routes;
}

async function ask(r: ReadinessCheck, timeoutMs: number): Promise<ReadinessAnswer['checks'][string]> {
  const started = performance.now();
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const answered = r.check(abort.signal);
  try {
    await Promise.race([answered, late]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    // A late rejection of the check itself is already answered for.
    answered.catch(() => undefined);
    return { ok: false, ms: Math.round(performance.now() - started), error: firstLine(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** The first line of the message, without anything that looks like a URL (it may hold a password). */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? '').replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, 300);
}
