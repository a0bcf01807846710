// The HTTP application of eventops (hono): health, and the `/api/v1` routes, every one behind an
// API token (the read-only ones may be opened with `anonymousRead`). Every answer is JSON; every
// error is `{ error: { code, message } }`, and an unexpected failure is a 500 that tells the
// client nothing internal.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Db } from '../schemas/database/index.js';
import type { Reconciler } from '../reconciler/index.js';
import type { Limits } from '../config/index.js';
import { agentsRoutes, ApiError, countsRoutes, definitionsRoutes, runsRoutes, sourcesRoutes, tokensRoutes, type RunsEngine } from './api/index.js';
import { requireToken } from './auth/index.js';
import { dashboardRoutes } from './dashboard/index.js';
import { probeRoutes, type ProbeDeps } from './probes/index.js';
import { bodyBudgetMiddleware, createBodyBudget, eventsRoutes, genericReceiver, githubReceiver, type GenericReceiverDeps, type GithubReceiverDeps, type Intake } from './intake/index.js';

export interface AppDeps {
  db: Db;
  reconciler: Pick<Reconciler, 'requestReconcile' | 'sourceNames'>;
  /** Sent as the `x-eventops-version` header of every answer. */
  version: string;
  /**
   * Receives what a client must not see: a 500's cause, a reconcile nobody waited for that
   * failed. Default: one line on stderr.
   */
  reportError?: (error: unknown, context: string) => void;
  /** Let GET requests of the read-only routes through without a token (`server.anonymousRead`). Default false. */
  anonymousRead?: boolean;
  /** Event intake: the webhook receivers and `/api/v1/events`. Absent: those routes are not served. */
  intake?: {
    intake: Intake;
    github: Omit<GithubReceiverDeps, 'intake'>;
    generic: Omit<GenericReceiverDeps, 'intake'>;
  };
  /** The runs routes (`/api/v1/runs…`): cancel and approvals go through `engine`. Absent: not served. */
  runs?: {
    engine: RunsEngine;
    /** How often a followed log is read again (default 250 ms) and a quiet one gets a heartbeat (default 15 s). */
    follow?: { pollMs?: number; heartbeatMs?: number };
  };
  /** `limits:` of eventops.yaml (default DEFAULT_LIMITS): request bodies (http), YAML aliases of events (yaml), log pages and followers (logs). */
  limits?: Limits;
  /** `/readyz`'s checks and `/metrics`' registry. Absent: `/readyz` asks nothing, `/metrics` is not served. */
  probes?: Omit<ProbeDeps, 'version'>;
}

/** Builds the application; serve it with startHttpServer. */
export function createApp(deps: AppDeps): Hono {
  const reportError = deps.reportError ?? writeToStderr;
  const app = new Hono();

  app.use(async (c, next) => {
    await next();
    c.header('x-eventops-version', deps.version);
  });
  // One budget of body bytes in flight for every route that reads a body (readRawBody).
  app.use(bodyBudgetMiddleware(createBodyBudget(deps.limits?.http)));

  app.route('/', probeRoutes({ version: deps.version, ...deps.probes }));
  if (deps.intake) {
    // Webhooks authenticate by their own signatures or tokens, not API tokens.
    app.route('/', githubReceiver({ intake: deps.intake.intake, ...deps.intake.github }));
    app.route('/', genericReceiver({ intake: deps.intake.intake, ...deps.intake.generic }));
  }
  // The dashboard page (`/`, `/runs/<id>`, …) and its files: they hold no data, the page reads /api/v1 with the browser's token.
  app.route('/', dashboardRoutes());
  // Every /api/v1 route needs a valid token; routes that change something demand a scope on top.
  app.use('/api/v1/*', requireToken({ db: deps.db, anonymousRead: deps.anonymousRead ?? false, scope: 'read' }));
  app.route('/api/v1', sourcesRoutes({ db: deps.db, reconciler: deps.reconciler, reportError }));
  app.route('/api/v1', definitionsRoutes({ db: deps.db }));
  app.route('/api/v1', tokensRoutes({ db: deps.db }));
  app.route('/api/v1', agentsRoutes({ db: deps.db }));
  app.route('/api/v1', countsRoutes({ db: deps.db }));
  if (deps.intake) app.route('/api/v1', eventsRoutes({ db: deps.db, intake: deps.intake.intake, ...(deps.limits ? { yaml: deps.limits.yaml } : {}) }));
  if (deps.runs) app.route('/api/v1', runsRoutes({ db: deps.db, engine: deps.runs.engine, reportError, ...(deps.runs.follow ? { follow: deps.runs.follow } : {}), ...(deps.limits ? { limits: deps.limits.logs } : {}) }));

  app.notFound((c) => c.json({ error: { code: 'NotFound', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json({ error: { code: error.code, message: error.message } }, error.status);
    // hono's own refusals (a malformed request it could not read).
    if (error instanceof HTTPException && error.status < 500) return c.json({ error: { code: 'BadRequest', message: error.message || 'bad request' } }, error.status);
    reportError(error, `${c.req.method} ${c.req.path}`);
    return c.json({ error: { code: 'Internal', message: 'internal error; the server log has the details' } }, 500);
  });

  return app;
}

function writeToStderr(error: unknown, context: string): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`eventops: ${context}: ${message}\n`);
}
