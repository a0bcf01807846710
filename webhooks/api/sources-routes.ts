// `/api/v1/sources`: list and detail (read-only), and the reconcile request (admin scope).
import { Hono } from 'hono';
import type { Db } from '../../schemas/database/index.js';
import { UnknownSourceError } from '../../reconciler/index.js';
import type { Reconciler } from '../../reconciler/index.js';
import { requireToken } from '../auth/index.js';
import { badRequest, notFound } from './api-error.js';
import { getSource, listSources } from './source-queries.js';

export interface SourcesRoutesDeps {
  db: Db;
  reconciler: Pick<Reconciler, 'requestReconcile' | 'sourceNames'>;
  /** Where a reconcile that nobody waits for reports its failure. */
  reportError: (error: unknown, context: string) => void;
}

function noSource(name: string) {
  return notFound(`no source named ${JSON.stringify(name)}`);
}

/** Mounted under `/api/v1`. */
export function sourcesRoutes(deps: SourcesRoutesDeps): Hono {
  const routes = new Hono();

  routes.get('/sources', async (c) => c.json({ items: await listSources(deps.db) }));

  routes.get('/sources/:name', async (c) => {
    const name = c.req.param('name');
    const detail = await getSource(deps.db, name);
    if (!detail) throw noSource(name);
    return c.json(detail);
  });

  routes.post('/sources/:name/reconcile', requireToken({ db: deps.db, scope: 'admin' }), async (c) => {
    const name = c.req.param('name');
    const wait = parseWait(c.req.query('wait'));
    if (!deps.reconciler.sourceNames.includes(name)) throw noSource(name);
    if (wait) {
      try {
        return c.json(await deps.reconciler.requestReconcile(name));
      } catch (error) {
        // Removed from the configuration between the check above and the call.
        if (error instanceof UnknownSourceError) throw noSource(name);
        throw error;
      }
    }
    // The outcome lands in the source's status; nobody awaits this promise, so it must not reject unhandled.
    deps.reconciler.requestReconcile(name).catch((error: unknown) => deps.reportError(error, `reconcile of source ${JSON.stringify(name)}`));
    return c.json({ accepted: true, source: name }, 202);
  });

  return routes;
}

function parseWait(value: string | undefined): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw badRequest(`wait must be true or false (got ${JSON.stringify(value)})`);
}
