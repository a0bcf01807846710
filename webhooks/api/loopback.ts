// The guard on the routes that change something, until API tokens exist: only a client on this
// machine may call them. A proxy in front would make every request look local, so a request
// that carries a forwarding header is refused too, as is one a web page sent from another origin
// (a browser on this machine would otherwise let any site POST here).
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from './api-error.js';

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses, in the forms Node reports. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a;
  const parts = v4.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** True for an `Origin` of a page served from this machine (http://127.0.0.1:…, localhost, [::1]). */
function isLoopbackOrigin(origin: string): boolean {
  try {
    const host = new URL(origin).hostname;
    return host === 'localhost' || isLoopbackAddress(host.replace(/^\[|\]$/g, ''));
  } catch {
    return false;
  }
}

function remoteAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // Not served by @hono/node-server (e.g. `app.request` in a test): no socket, so not local.
    return undefined;
  }
}

const FORBIDDEN = 'this route is open to clients on the server machine (loopback) only until API tokens exist';

/** Rejects with 403 anything that is not a direct, non-browser-cross-origin request from loopback. */
export function loopbackOnly(): MiddlewareHandler {
  return async (c, next) => {
    const forwarded = FORWARDING_HEADERS.find((h) => c.req.header(h) !== undefined);
    if (forwarded) throw new ApiError(403, 'Forbidden', `${FORBIDDEN}; requests through a proxy (${forwarded} header) are refused`);
    const origin = c.req.header('origin');
    if (origin !== undefined && !isLoopbackOrigin(origin)) throw new ApiError(403, 'Forbidden', `${FORBIDDEN}; requests from web pages of other origins are refused`);
    if (!isLoopbackAddress(remoteAddress(c))) throw new ApiError(403, 'Forbidden', `${FORBIDDEN}; call it from the server machine`);
    await next();
  };
}
