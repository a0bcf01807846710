// `/api/v1/tokens` (admin scope): make a token, which is answered once and never again, and list
// the tokens by name and scopes (never their hashes).
import { Hono } from 'hono';
import type { Db } from '../../schemas/database/index.js';
import { NewTokenError, TokenNameTakenError, createToken, listTokens, parseNewToken, requireToken } from '../auth/index.js';
import type { NewToken } from '../auth/index.js';
import { ApiError, badRequest } from './api-error.js';

/** Mounted under `/api/v1`. */
export function tokensRoutes(deps: { db: Db }): Hono {
  const routes = new Hono();
  const admin = requireToken({ db: deps.db, scope: 'admin' });

  routes.post('/tokens', admin, async (c) => {
    let input: NewToken;
    try {
      input = parseNewToken(parseBody(await c.req.text()));
    } catch (error) {
      if (error instanceof NewTokenError) throw badRequest(error.message);
      throw error;
    }
    let token: string;
    try {
      token = await createToken(deps.db, input);
    } catch (error) {
      if (error instanceof TokenNameTakenError) throw new ApiError(409, 'Conflict', error.message);
      throw error;
    }
    // The only answer that carries a token: no cache may keep it.
    c.header('cache-control', 'no-store');
    return c.json({ name: input.name, scopes: input.scopes, token }, 201);
  });

  routes.get('/tokens', admin, async (c) => c.json({ items: await listTokens(deps.db) }));

  return routes;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('the body must be JSON like {"name": "ci", "scopes": ["events:write"]}');
  }
}
