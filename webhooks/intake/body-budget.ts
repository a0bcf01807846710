// The bytes of request bodies being read at once, across all connections (limits.http). Each
// request gets an allowance from one shared budget: a body's declared length is counted before a
// byte of it is read (so a crowd of slow 24 MB bodies is refused up front, 503, rather than held),
// a chunked body is counted as it arrives, and the bytes stay counted until the answer is sent —
// the handler holds them, and their parse, until then. A request whose body was not read to its
// end is answered with `connection: close`, so its unread rest is not waited for.
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { DEFAULT_LIMITS, type Limits } from '../../config/index.js';

export type HttpLimits = Limits['http'];

/** The shared count of body bytes in flight. */
export interface BodyBudget {
  readonly limits: HttpLimits;
  /** Bytes counted now, over all requests. */
  inFlight(): number;
  /** A new request's allowance; give it back (release) when the request is answered. */
  allowance(): BodyAllowance;
}

/** One request's share of the budget. */
export interface BodyAllowance {
  readonly limits: HttpLimits;
  /** Counts `bytes` more for this request; false (and nothing counted) when they would take the total past bodyBytesInFlight. */
  take(bytes: number): boolean;
  /** Gives back what this request counted. Idempotent. */
  release(): void;
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by bodyBudgetMiddleware; readRawBody reads bodies through it. */
    bodyAllowance: BodyAllowance | undefined;
  }
}

/** A budget of `limits.bodyBytesInFlight` bytes (default DEFAULT_LIMITS.http). */
export function createBodyBudget(limits: HttpLimits = DEFAULT_LIMITS.http): BodyBudget {
  let inFlight = 0;
  return {
    limits,
    inFlight: () => inFlight,
    allowance: () => {
      let held = 0;
      return {
        limits,
        take: (bytes) => {
          if (inFlight + bytes > limits.bodyBytesInFlight) return false;
          inFlight += bytes;
          held += bytes;
          return true;
        },
        release: () => {
          inFlight -= held;
          held = 0;
        },
      };
    },
  };
}

/** Gives every request an allowance from `budget` and takes it back once the request is answered. */
export function bodyBudgetMiddleware(budget: BodyBudget): MiddlewareHandler {
  return async (c, next) => {
    const allowance = budget.allowance();
    c.set('bodyAllowance', allowance);
    try {
      await next();
    } finally {
      allowance.release();
      // Refused before (or while) its body was read: end the connection after the answer instead
      // of reading the rest of a body nobody wants (node would otherwise read it to keep the connection).
      const incoming = incomingOf(c);
      if (incoming && !incoming.complete && hasBody(c)) c.header('connection', 'close');
    }
  };
}

/** The node request under a hono context when served by @hono/node-server (absent in app.request() tests). */
function incomingOf(c: Context): IncomingMessage | undefined {
  const env: unknown = c.env;
  if (env === null || typeof env !== 'object' || !('incoming' in env)) return undefined;
  return env.incoming as IncomingMessage;
}

function hasBody(c: Context): boolean {
  const length = c.req.header('content-length');
  return (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
}
