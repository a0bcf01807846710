// The composition root of `eventops serve`: configuration → logger → metrics → database
// (PostgreSQL or the embedded PGlite, migrated) → the admin token → reconciler → HTTP server.
// Everything with a connection is built here, once, and closed in reverse order by `close()`.
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { createMetrics, type Metrics } from '../metrics/index.js';
import { createSecretStore, type Config } from '../config/index.js';
import { createReconciler, type ProcessReconciler } from '../reconciler/index.js';
import { openDatabase, secureFolder, type Campaign, type Database } from '../schemas/database/index.js';
import { agentAuthenticator, agentSockets, createApp, ensureAdminToken, probeRoutes, setAdminToken, startHttpServer, type AgentSockets, type ReadinessCheck } from '../webhooks/index.js';
import { Hono } from 'hono';
import { ROLES, sourcesPushedTo, startEvents, type EventSide, type Role } from './start-events.js';
import { createServerLogger } from './server-logger.js';
import { VERSION } from './version.js';

export interface RunningServer {
  url: string;
  database: Database;
  reconciler: ProcessReconciler;
  logger: Logger;
  /** This process's Prometheus registry (served at `/metrics`). */
  metrics: Metrics;
  /**
   * Shuts down in order: `/readyz` answers 503 at once, then after `delayMs` (default none) the
   * server stops taking requests, workers stop taking jobs and finish (or hand back) what they
   * run, reconciles in progress end, and the database closes. Idempotent.
   */
  close(options?: { delayMs?: number }): Promise<void>;
}

export interface StartServerOptions {
  logger?: Logger;
  env?: Record<string, string | undefined>;
  /** Start the reconcile timers and watches (default true). */
  schedule?: boolean;
  /** Key prefix of the BullMQ queues (default `eventops`; tests use their own). */
  queuePrefix?: string;
  /** What this process does (default all): `serve --role`. */
  roles?: readonly Role[];
}

export async function startServer(config: Config, options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createServerLogger(config.logLevel);
  const roles = new Set(options.roles ?? ROLES);
  const metrics = createMetrics();
  // Events, the admin token and git caches live here: the folder is the owner's alone (0700), whatever the database.
  const secured = secureFolder(config.dataDir);
  if (secured.changed > 0) logger.info({ dataDir: config.dataDir, tightened: secured.changed }, 'data folder: group and other permissions removed');
  if (secured.notOwned.length > 0) logger.warn({ paths: secured.notOwned.slice(0, 10) }, 'data folder: cannot remove group and other permissions of paths another user owns; make the data folder the eventops user\'s (mode 0700)');
  const database = await openDatabase({ ...(config.databaseUrl ? { url: config.databaseUrl } : {}), dataDir: config.dataDir });
  logger.info({ driver: database.driver, ...(database.driver === 'pglite' ? { dataDir: config.dataDir } : {}) }, 'database ready');
  // The embedded database belongs to one process, so the roles this one leaves out run nowhere.
  const missing = ROLES.filter((r) => !roles.has(r));
  if (database.driver === 'pglite' && missing.length > 0) {
    logger.warn({ missing }, `the embedded database cannot be shared with another process, so the ${missing.join(' and ')} role${missing.length > 1 ? 's run' : ' runs'} nowhere: set DATABASE_URL (and REDIS_URL) to split roles across processes, or leave out --role`);
  }
  const secrets = createSecretStore({ ...(options.env ? { env: options.env } : {}), ...(config.secretsDir ? { dir: config.secretsDir } : {}) });
  try {
    const given = config.server.adminTokenSecret;
    if (given) {
      const value = secrets.get(given);
      if (value === undefined) throw new Error(`server.adminToken names secret ${given}, which is not set (EVENTOPS_SECRET_${given.toUpperCase()}, or a file in secrets.dir)`);
      await setAdminToken(database.db, value, given);
      logger.info({ secret: given }, 'admin token set from a secret');
    } else {
      const admin = await ensureAdminToken(database.db, config.dataDir);
      // The path only: the token itself is never logged.
      if (admin.created) logger.info({ file: admin.file }, `admin token written to ${admin.file}`);
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  const reconciler = createReconciler({
    database,
    sources: config.sources,
    dataDir: config.dataDir,
    secrets,
    gitLimits: config.limits.git,
    logger,
    yaml: config.limits.yaml,
    // Only the reconciler role's leader polls and watches sources (begun below); the API still reconciles on request.
    schedule: false,
    onReconciled: (result) => metrics.reconciled(result.source, result.outcome, result.durationMs / 1000),
  });
  let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  let campaign: Campaign | undefined;
  let draining = false;
  let eventSide: EventSide | undefined;
  let sockets: AgentSockets | undefined;
  try {
    await reconciler.start();
    eventSide = await startEvents(config, { database, reconciler, secrets, logger, roles: [...roles], metrics, ...(options.queuePrefix ? { queuePrefix: options.queuePrefix } : {}) });
    const { intake, engine, driver } = eventSide;
    // Ready when the database and the queue answer (the embedded queue is the database, asked through the driver all the same).
    const readiness: ReadinessCheck[] = [
      {
        name: 'shutdown',
        check: async () => {
          if (draining) throw new Error('this process is shutting down');
        },
      },
      { name: 'database', check: async () => void (await database.db.execute(sql`select 1`)) },
      { name: 'queue', check: async () => void (await driver.stats('events')) },
    ];
    const probes = { readiness, metrics };
    const secretValues = (names: readonly string[]) => names.flatMap((n) => secrets.get(n) ?? []);
    // Every role answers /healthz; only the api role serves the API and the webhooks.
    const app = !roles.has('api') ? probesOnly(VERSION, probes) : createApp({
      db: database.db,
      reconciler,
      version: VERSION,
      anonymousRead: config.server.anonymousRead,
      limits: config.limits,
      reportError: (err, context) => logger.error({ err, context }, 'request failed'),
      intake: {
        intake,
        github: {
          secrets: () => secretValues(config.githubWebhookSecrets),
          // A push to a source's repository: reconcile it now rather than at its next interval.
          onEvent: (event) => {
            for (const name of sourcesPushedTo(event, config.sources)) {
              reconciler.requestReconcile(name).catch((err: unknown) => logger.warn({ err, source: name }, 'reconcile after a push failed'));
            }
          },
        },
        generic: { receivers: config.receivers, secret: (name) => secrets.get(name) },
      },
      runs: { engine },
      probes,
    });
    if (roles.has('api')) {
      sockets = agentSockets({
        hub: eventSide.agents,
        authenticate: agentAuthenticator({ db: database.db, secret: eventSide.secret }),
        log: (level, message, fields) => logger[level](fields, message),
      });
    }
    const upgrades = sockets;
    if (roles.has('reconciler') && options.schedule !== false) campaign = leadReconciles(database, reconciler, eventSide, logger, metrics);
    http = await startHttpServer(app, {
      port: config.server.port,
      host: config.server.host,
      upgrade: (request, socket, head) => upgrades?.upgrade(request, socket, head) ?? false,
      limits: config.limits.http,
      warn: (message, fields) => logger.warn(fields, message),
    });
  } catch (error) {
    await campaign?.resign();
    sockets?.close();
    await eventSide?.close();
    await reconciler.close();
    await database.close();
    throw error;
  }
  logger.info({ url: http.url, roles: [...roles], sources: reconciler.sourceNames }, 'eventops is serving');
  let closing: Promise<void> | undefined;
  const server = http;
  const events = eventSide;
  const agentUpgrades = sockets;
  const leadership = campaign;
  return {
    url: server.url,
    database,
    reconciler,
    logger,
    metrics,
    close: (closeOptions = {}) =>
      (closing ??= (async () => {
        draining = true;
        const delayMs = closeOptions.delayMs ?? 0;
        if (delayMs > 0) {
          logger.info({ delayMs }, 'shutting down: not ready any more; stopping after the delay');
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
        await leadership?.resign();
        await server.close();
        await events.close();
        agentUpgrades?.close();
        await reconciler.close();
        await database.close();
      })()),
  };
}

/**
 * The reconciler role campaigns to lead (PostgreSQL advisory lock; the embedded database's one
 * process leads at once): the leader polls and watches sources and fires schedule triggers.
 * A leader that took over from another also fires the ticks of the last minute (idempotent).
 */
function leadReconciles(database: Database, reconciler: ProcessReconciler, events: EventSide, logger: Logger, metrics: Metrics): Campaign {
  let firstTry = true;
  const campaign = database.campaign('eventops:reconciler-leader', {
    onElected: () => {
      logger.info('leading the reconciler role: polling sources and firing schedules here');
      metrics.setLeader(true);
      reconciler.beginSchedule();
      events.schedules.start(firstTry ? 0 : 60_000);
    },
    onDeposed: async () => {
      logger.info('no longer leading the reconciler role');
      metrics.setLeader(false);
      await events.schedules.stop();
      await reconciler.endSchedule();
    },
    onError: (error) => logger.warn({ err: error }, 'reconciler leader election: the database did not answer; trying again'),
  });
  // Any later election is a take-over (or a reconnect) that may have missed ticks.
  setTimeout(() => (firstTry = false), 10_000).unref();
  return campaign;
}

/** The HTTP side of a process without the api role: the probes only (health, readiness, metrics). */
function probesOnly(version: string, probes: Omit<Parameters<typeof probeRoutes>[0], 'version'>): Hono {
  const app = new Hono();
  app.route('/', probeRoutes({ version, ...probes }));
  app.notFound((c) => c.json({ error: { code: 'NotFound', message: `no route ${c.req.method} ${c.req.path}: this process does not have the api role` } }, 404));
  return app;
}
