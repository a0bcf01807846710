// `GET /api/v1/definitions`: the active definitions, filtered by kind, source and name, paged.
import { Hono } from 'hono';
import type { Db } from '../../schemas/database/index.js';
import { badRequest } from './api-error.js';
import { listDefinitions } from './definition-queries.js';

/** The kinds as stored; a query may spell them in any case. */
export const DEFINITION_KINDS = ['Actuator', 'Pipeline', 'Trigger', 'Event'] as const;

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** Mounted under `/api/v1`. */
export function definitionsRoutes(deps: { db: Db }): Hono {
  const routes = new Hono();
  routes.get('/definitions', async (c) => {
    const kind = c.req.query('kind');
    const source = c.req.query('source');
    const name = c.req.query('name');
    const page = await listDefinitions(deps.db, {
      kind: kind ? normaliseKind(kind) : undefined,
      source: source || undefined,
      name: name || undefined,
      limit: parseCount('limit', c.req.query('limit'), DEFAULT_LIMIT, MAX_LIMIT),
      offset: parseCount('offset', c.req.query('offset'), 0),
    });
    return c.json(page);
  });
  return routes;
}

/** `pipeline`, `PIPELINE` → `Pipeline`; an unknown kind is a 400 naming the allowed ones. */
export function normaliseKind(kind: string): string {
  const found = DEFINITION_KINDS.find((k) => k.toLowerCase() === kind.toLowerCase());
  if (!found) throw badRequest(`unknown kind ${JSON.stringify(kind)}: use one of ${DEFINITION_KINDS.join(', ')}`);
  return found;
}

/** A whole number from 0 to `max` (no bound when absent); `fallback` when the parameter is absent or empty. */
function parseCount(param: string, value: string | undefined, fallback: number, max?: number): number {
  if (value === undefined || value === '') return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || (max !== undefined && n > max)) {
    const range = max === undefined ? '0 or more' : `from 0 to ${max}`;
    throw badRequest(`${param} must be a whole number ${range} (got ${JSON.stringify(value)})`);
  }
  return n;
}
