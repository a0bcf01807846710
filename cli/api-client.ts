// How CLI commands talk to a running eventops server: a small fetch wrapper that turns the
// server's `{ error: { code, message } }` answers and network failures into messages a person
// can act on. The server comes from --server, else EVENTOPS_SERVER, else http://127.0.0.1:8080;
// the token it sends from resolveApiToken.
import type { TokenLookup } from './api-token.js';
import { UsageError } from './output.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** An error answer of the server, with its status and code (e.g. 404 `NotFound`). */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export interface RequestOptions {
  /** Give up after this long; default 30 s. `0` waits as long as the server takes. */
  timeoutMs?: number;
  /** Sent as JSON. */
  body?: unknown;
}

export interface ApiClient {
  /** The server's base URL, without a trailing slash. */
  readonly server: string;
  /** Resolves with the parsed JSON of a 2xx answer; rejects with ApiRequestError or a message naming the server. */
  get(path: string, options?: RequestOptions): Promise<unknown>;
  post(path: string, options?: RequestOptions): Promise<unknown>;
}

/** `--server` if given, else EVENTOPS_SERVER from `env`, else the default; a malformed URL is a usage error. */
export function resolveServer(option: string | undefined, env: Record<string, string | undefined>): string {
  const value = option || env.EVENTOPS_SERVER || DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`the server must be a URL like ${DEFAULT_SERVER} (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`the server URL must start with http:// or https:// (got ${JSON.stringify(value)})`);
  return url.toString().replace(/\/+$/, '');
}

/** A client of `server` that sends the token found (if any) as `Authorization: Bearer`. */
export function createApiClient(server: string, lookup?: TokenLookup): ApiClient {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (lookup?.token) headers.authorization = `Bearer ${lookup.token.value}`;
  const request = async (method: string, path: string, options: RequestOptions = {}): Promise<unknown> => {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const body = options.body === undefined ? null : JSON.stringify(options.body);
    let res: Response;
    try {
      res = await fetch(`${server}${path}`, {
        method,
        headers: body === null ? headers : { ...headers, 'content-type': 'application/json' },
        body,
        signal: timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : null,
      });
    } catch (error) {
      throw new Error(`cannot reach the eventops server at ${server}: ${describeFailure(error)} (start it with \`eventops serve\`, or set --server / EVENTOPS_SERVER)`, { cause: error });
    }
    const parsed = parseJson(await res.text());
    if (res.ok) {
      if (parsed === undefined) throw new Error(`the server at ${server} answered ${method} ${path} with something that is not JSON: is it an eventops server?`);
      return parsed;
    }
    if (res.status === 401) throw new ApiRequestError(401, 'Unauthorized', unauthorizedMessage(server, lookup));
    const error = errorOf(parsed);
    if (error) throw new ApiRequestError(res.status, error.code, error.message + hint(res.status, error.message, server));
    throw new ApiRequestError(res.status, 'HttpError', `the server at ${server} answered ${method} ${path} with ${res.status} ${res.statusText}`.trimEnd());
  };
  return {
    server,
    get: (path, options) => request('GET', path, options),
    post: (path, options) => request('POST', path, options),
  };
}

/** What to do about a refusal whose message alone does not say how to fix it. */
function hint(status: number, message: string, server: string): string {
  if (status === 403) return ' (ask an admin for a token with that scope: `eventops tokens create --name NAME --scopes SCOPE`, then set EVENTOPS_TOKEN or pass --token)';
  // A route the server does not have (not a missing run or source): another version, or a process without the api role.
  if (status === 404 && message.startsWith('no route ') && !message.includes('api role')) return ` (the server at ${server} is another version of eventops than this command (${'`eventops --version`'}), or a process without the api role: point --server / EVENTOPS_SERVER at one that has it)`;
  return '';
}

/** What to set when the server wants a (different) token; never the token itself. */
function unauthorizedMessage(server: string, lookup: TokenLookup | undefined): string {
  const fix =
    'set EVENTOPS_TOKEN or pass --token with a token from `eventops tokens create`; on the server machine, run the command in the folder of `eventops serve` so it reads .eventops/admin-token (or set EVENTOPS_DATA_DIR to the server\'s data folder)';
  const token = lookup?.token;
  if (!token) return `the server at ${server} needs an API token and none was found${lookup ? ` (no --token, no EVENTOPS_TOKEN, no ${lookup.file})` : ''}: ${fix}`;
  return `the server at ${server} does not accept the token from ${token.from} (made for another server, or its database was reset): ${fix}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorOf(body: unknown): { code: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const { error } = body;
  if (typeof error !== 'object' || error === null || !('message' in error) || typeof error.message !== 'string') return undefined;
  return { code: 'code' in error && typeof error.code === 'string' ? error.code : 'Error', message: error.message };
}

/** fetch hides the reason in `cause` (an AggregateError with no message when both ::1 and 127.0.0.1 were tried). */
function describeFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  let reason: unknown = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (reason instanceof AggregateError && reason.errors.length > 0) reason = reason.errors[0];
  if (reason instanceof Error) return reason.message || ('code' in reason && typeof reason.code === 'string' ? reason.code : reason.name);
  return String(reason);
}
