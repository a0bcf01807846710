// The HTTP client isomorphic-git talks through, built on Node's global `fetch` (undici, with
// keep-alive): every request gets a timeout and the caller's abort signal, and network failures
// become SourceErrors (`Unreachable`, `Timeout`) whose messages hold no credentials. A response
// larger than the fetch's memory budget is cut off (`FetchOutOfMemory`), and a ref advertisement
// without HEAD gets a stand-in, so a named ref can be fetched from a remote whose HEAD dangles.
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { SourceError } from '../errors.js';
import { redact, sanitizeUrl } from './sanitize.js';

export interface GitHttpOptions {
  /** Limit for one request, from sending it to the last byte of its response. */
  timeoutMs: number;
  /** The caller's signal: aborting it aborts the request in flight. */
  signal?: AbortSignal;
  /** Values masked in every message (tokens, passwords). */
  secrets: readonly string[];
  /** Ask upload-pack for thin packs (see `withThinPack`). */
  thinPack?: boolean;
  /** Bytes one response body may have (isomorphic-git holds a pack whole in memory); default: no limit. */
  maxResponseBytes?: number;
}

export interface GitHttp {
  client: HttpClient;
  /**
   * The first network failure seen. isomorphic-git swallows errors raised while it reads a
   * response body (it ends the stream early instead), so callers check this after each call
   * lest a cut-off ref list read as a complete one.
   */
  failure(): SourceError | undefined;
}

const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** One client per operation: it shares the operation's signal and remembers its failure. */
export function createGitHttp(options: GitHttpOptions): GitHttp {
  let failed: SourceError | undefined;
  const fail = (err: unknown, what: string): SourceError => {
    const error = err instanceof SourceError ? err : networkError(err, what, options);
    failed ??= error;
    return error;
  };

  const request = async (req: GitHttpRequest): Promise<GitHttpResponse> => {
    const method = req.method ?? 'GET';
    const what = `${method} ${sanitizeUrl(req.url)}`;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    let res: Response;
    try {
      // Request bodies here are small upload-pack commands that isomorphic-git already holds in
      // memory; sending them whole gives a Content-Length, which some servers (CodeCommit) need.
      let body = req.body ? await collect(req.body) : undefined;
      if (body && options.thinPack && method === 'POST' && req.url.endsWith('/git-upload-pack')) body = withThinPack(body);
      const send = () => fetch(req.url, { method, headers: req.headers, body, signal, redirect: 'follow' });
      try {
        res = await send();
      } catch (err) {
        // A kept-alive connection the server closed while this process was busy (a long sync
        // keeps the event loop from noticing) fails before any response: these requests are
        // idempotent, so one retry on a fresh connection is safe.
        if (signal.aborted || !STALE_SOCKET_CODES.has(errorCode(err) ?? '')) throw err;
        res = await send();
      }
    } catch (err) {
      throw fail(err, what);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      headers[key] = value;
    });
    let body = readBody(res.body, options.maxResponseBytes, what, (err) => fail(err, what));
    if (method === 'GET' && res.ok && /\/info\/refs\?service=git-upload-pack$/.test(req.url)) body = withHeadStandIn(body);
    return { url: res.url || req.url, method, statusCode: res.status, statusMessage: res.statusText, headers, body };
  };
  return { client: { request }, failure: () => failed };
}

/**
 * Adds `thin-pack` to the capabilities of a protocol v0/v1 fetch request (v2 commands are left
 * alone). isomorphic-git leaves it out because canonical git cannot read thin packs, but it reads
 * them itself (deltas against objects already in the cache), and without it the server ignores
 * the `have` of a shallow fetch: changing one file of 10,000 resent all 10,000. Thin packs keep
 * their external deltas on disk, so the cache must read the oldest copy of an object first
 * (git-cache.ts names packs in fetch order); read newest-first, sibling commits looped.
 */
export function withThinPack(body: Buffer): Buffer {
  // The first pkt-line is `<4 hex length>want <oid> <capabilities>\n`.
  if (body.length < 9 || body.toString('latin1', 4, 9) !== 'want ') return body;
  const length = Number.parseInt(body.toString('latin1', 0, 4), 16);
  const line = body.toString('latin1', 4, length);
  if (!line.endsWith('\n') || / thin-pack\b/.test(line)) return body;
  const patched = `${line.slice(0, -1)} thin-pack\n`;
  const head = Buffer.from((patched.length + 4).toString(16).padStart(4, '0') + patched, 'latin1');
  return Buffer.concat([head, body.subarray(length)]);
}

async function collect(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* readBody(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number | undefined,
  what: string,
  onError: (err: unknown) => SourceError,
): AsyncIterableIterator<Uint8Array> {
  if (!body) return;
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.byteLength;
      if (maxBytes !== undefined && bytes > maxBytes) {
        await body.cancel().catch(() => undefined);
        throw new SourceError(
          'stalling',
          'FetchOutOfMemory',
          `${what} sent more than ${maxBytes} bytes, the memory budget of one fetch (limits.git.fetchMemoryBytes): raise limits.git.fetchMemoryBytes in eventops.yaml`,
        );
      }
      yield chunk;
    }
  } catch (err) {
    throw onError(err);
  }
}

/**
 * isomorphic-git's fetch insists on learning the remote's HEAD (only to report a default branch)
 * and throws `Could not find HEAD` when the advertisement has none, whatever ref was asked for.
 * A bare repository whose HEAD names a branch never pushed (`git init --bare` makes HEAD
 * `master`; only `main` pushed) advertises no HEAD. Then this adds `symref=HEAD:<first ref>` to
 * the capabilities: the fetch of a named ref goes on, and nothing here reads that value. A fetch
 * of HEAD itself still fails (the source asks for `ref` then).
 */
export async function* withHeadStandIn(body: AsyncIterableIterator<Uint8Array>): AsyncIterableIterator<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  yield patchAdvertisement(Buffer.concat(chunks));
}

function patchAdvertisement(data: Buffer): Buffer {
  // pkt-lines: `# service=git-upload-pack`, a flush, then `<oid> <ref>\0<capabilities>` and one
  // `<oid> <ref>` per further ref, then a flush. Anything else is left alone.
  const lines: { start: number; end: number }[] = [];
  for (let at = 0; at + 4 <= data.length; ) {
    const length = Number.parseInt(data.toString('latin1', at, at + 4), 16);
    if (!Number.isInteger(length) || (length > 0 && length < 4) || at + Math.max(length, 4) > data.length) return data;
    lines.push({ start: at, end: at + Math.max(length, 4) });
    at += Math.max(length, 4);
  }
  const text = (i: number) => {
    const line = lines[i];
    return line ? data.toString('latin1', line.start + 4, line.end) : '';
  };
  const first = text(0).startsWith('# service=') ? 2 : 0;
  const head = text(first);
  const nul = head.indexOf('\0');
  if (nul < 0 || /\bsymref=HEAD:/.test(head)) return data;
  const refOf = (line: string) => line.slice(41).split('\0')[0]?.replace(/\n$/, '') ?? '';
  const refs = lines.slice(first).map((_, i) => refOf(text(first + i))).filter((r) => r !== '');
  const stand = refs.find((r) => r !== 'HEAD' && r.startsWith('refs/heads/')) ?? refs.find((r) => r !== 'HEAD');
  if (refs.includes('HEAD') || !stand || refOf(head) === 'capabilities^{}') return data;
  const body = head.endsWith('\n') ? head.slice(0, -1) : head;
  const patched = `${body} symref=HEAD:${stand}\n`;
  const line = Buffer.from((patched.length + 4).toString(16).padStart(4, '0') + patched, 'latin1');
  const at = lines[first] as { start: number; end: number };
  return Buffer.concat([data.subarray(0, at.start), line, data.subarray(at.end)]);
}

function networkError(err: unknown, what: string, options: GitHttpOptions): SourceError {
  const name = err instanceof Error ? err.name : '';
  const code = errorCode(err);
  const clean = (text: string) => redact(text, options.secrets);
  // The caller's own abort first: its reason can be any value, not only an AbortError.
  if (options.signal?.aborted) {
    return new SourceError('transient', 'Aborted', clean(`${what} was cancelled`), { cause: err });
  }
  if (name === 'TimeoutError' || (code && TIMEOUT_CODES.has(code))) {
    return new SourceError('transient', 'Timeout', clean(`${what} timed out after ${options.timeoutMs} ms: the server is slow or unreachable; it will be retried`), { cause: err });
  }
  if (code && /^(CERT_|ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED)/.test(code)) {
    return new SourceError('stalling', 'TLSFailed', clean(`${what} failed the TLS handshake (${code}): check the server's certificate`), { cause: err });
  }
  const detail = code ?? (err instanceof Error ? err.message : String(err));
  return new SourceError('transient', 'Unreachable', clean(`cannot reach ${what} (${detail}): check the URL and that the server is up`), { cause: err });
}

// undici wraps socket errors: `TypeError('fetch failed', { cause })`, where cause may itself be
// an AggregateError (one error per address tried).
function errorCode(err: unknown): string | undefined {
  for (let current = err, depth = 0; current && depth < 4; depth++) {
    if (typeof current !== 'object') return undefined;
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') return code;
    current = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
}
