// The hono middleware that guards `/api/v1`: `Authorization: Bearer <token>`, looked up by its
// hash. No or an unknown token → 401 with `WWW-Authenticate: Bearer`; a valid token without the
// scope a route needs → 403 naming that scope. The token itself never appears in an answer or a
// log. It answers by itself rather than throwing, so it depends on nothing of the routes.
import type { Context, MiddlewareHandler } from 'hono';
import type { Db } from '../../schemas/database/index.js';
import { hasScope, type Scope } from './scopes.js';
import { verifyToken, type VerifiedToken } from './token-store.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The token the request was authorised with; set by requireToken, absent for an anonymous read. */
    apiToken: VerifiedToken | undefined;
  }
}

export interface RequireTokenOptions {
  db: Db;
  /** Let GET and HEAD requests of routes needing only `read` through without a token. Default false. */
  anonymousRead?: boolean;
  scope: Scope;
}

const HOW_TO =
  'send Authorization: Bearer <token>; on the server machine the CLI reads .eventops/admin-token (written by the first `eventops serve`), elsewhere set EVENTOPS_TOKEN to a token from `eventops tokens create`';

/**
 * Lets the request through when it carries a token with `scope` (every valid token reads;
 * `admin` may do everything). Stacks: a second requireToken on the same request reuses the first
 * one's lookup, so a route can demand more than the `read` its prefix demands.
 */
export function requireToken(options: RequireTokenOptions): MiddlewareHandler {
  const { db, scope } = options;
  return async (c, next) => {
    let token = c.get('apiToken');
    if (token === undefined) {
      const header = c.req.header('authorization');
      if (header === undefined && options.anonymousRead === true && scope === 'read' && (c.req.method === 'GET' || c.req.method === 'HEAD')) {
        await next();
        return;
      }
      const presented = bearerToken(header);
      if (presented === undefined) {
        const problem = header === undefined ? 'this route needs an API token' : 'the Authorization header is not of the form Bearer <token>';
        return unauthorized(c, `${problem}: ${HOW_TO}`);
      }
      token = await verifyToken(db, presented);
      if (!token) return unauthorized(c, `the token sent is not known to this server (revoked, or made for another server): ${HOW_TO}`);
      c.set('apiToken', token);
    }
    if (!hasScope(token.scopes, scope)) {
      const has = token.scopes.length > 0 ? token.scopes.join(', ') : 'no scope';
      return c.json(
        { error: { code: 'Forbidden', message: `${c.req.method} ${c.req.path} needs a token with the ${scope} scope; the token ${JSON.stringify(token.name)} has ${has}` } },
        403,
      );
    }
    await next();
  };
}

/** The token of `Bearer <token>` (scheme in any case), else undefined. */
function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

function unauthorized(c: Context, message: string): Response {
  return c.json({ error: { code: 'Unauthorized', message } }, 401, { 'WWW-Authenticate': 'Bearer' });
}
