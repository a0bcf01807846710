// Reads a request body as raw bytes with a size limit, before anything parses it: signatures
// are checked on exactly these bytes. Every read goes through the request's share of the bodies
// in flight (body-budget.ts) and has a deadline (limits.http), so no crowd of slow or large
// bodies can hold more memory than the budget, or hold it for longer than the timeout.
import type { Context } from 'hono';
import { DEFAULT_LIMITS } from '../../config/index.js';
import { ApiError } from '../api/index.js';
import { checkStorable } from './storable.js';
import { createBodyBudget, type BodyAllowance } from './body-budget.js';

/** GitHub's own limit for webhook payloads (and limits.http.maxBodyBytes' default). */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

/**
 * The whole body, at most `limit` bytes (default limits.http.maxBodyBytes; never more than it):
 * 413 beyond, 503 with Retry-After when the bodies in flight would pass limits.http.bodyBytesInFlight,
 * 408 when it has not arrived within limits.http.bodyTimeoutMs.
 */
export async function readRawBody(c: Context, limit?: number): Promise<Buffer> {
  // Outside the app (a receiver mounted alone in a test), a budget of its own with the default limits.
  const allowance: BodyAllowance = c.get('bodyAllowance') ?? createBodyBudget().allowance();
  const { maxBodyBytes, bodyTimeoutMs } = allowance.limits;
  const max = Math.min(limit ?? maxBodyBytes, maxBodyBytes);
  const header = c.req.header('content-length');
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > max) throw new ApiError(413, 'PayloadTooLarge', `the body is ${declared} bytes; at most ${max} are accepted (limits.http.maxBodySize)`);
  const busy = () => {
    c.header('retry-after', String(Math.max(1, Math.ceil(bodyTimeoutMs / 1000))));
    return new ApiError(503, 'Busy', 'too many request bodies are being received at once (limits.http.bodiesInFlight); retry later');
  };
  if (declared !== undefined && declared > 0 && !allowance.take(declared)) throw busy();
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiError(408, 'RequestTimeout', `the body did not arrive within ${bodyTimeoutMs} ms (limits.http.bodyTimeout)`)), bodyTimeoutMs);
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]).catch((error: unknown) => {
        if (error instanceof ApiError) throw error;
        throw new ApiError(400, 'BadRequest', 'the request body could not be read to its end (the client closed the connection?)');
      });
      if (done) break;
      size += value.byteLength;
      if (size > max) throw new ApiError(413, 'PayloadTooLarge', `the body is over ${max} bytes (limits.http.maxBodySize)`);
      // A chunked body (no declared length) is counted as it arrives.
      if (declared === undefined && !allowance.take(value.byteLength)) throw busy();
      chunks.push(value);
    }
  } catch (error) {
    // Stop reading; the connection is closed after the answer (body-budget.ts).
    reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks);
}

/** The body as UTF-8 text; invalid UTF-8 is a 400 saying at which byte (a signature over replaced bytes would mislead). */
export function utf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, 'BadRequest', `the body is not valid UTF-8 (a bad byte near offset ${firstInvalidUtf8(bytes)}); send UTF-8 text`);
  }
}

/**
 * Parses JSON, then refuses (400, naming the place) what PostgreSQL cannot store — a NUL, a lone
 * surrogate — and nesting deeper than `maxDepth` (limits.http.maxDepth): JSON.parse itself
 * never recurses, but JSON.stringify and everything after it would.
 */
export function parseJsonBody(text: string, maxDepth: number = DEFAULT_LIMITS.http.maxDepth): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'BadRequest', `the body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  checkStorable(value, 'body', maxDepth);
  return value;
}

/** Where the first invalid UTF-8 sequence starts, within 4 bytes (only on the error path). */
function firstInvalidUtf8(bytes: Buffer): number {
  // The longest prefix that still decodes (an unfinished last sequence allowed), by halving.
  let good = 0;
  let bad = bytes.length;
  while (bad - good > 4) {
    const mid = (good + bad) >>> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      good = mid;
    } catch {
      bad = mid;
    }
  }
  return good;
}

/** The headers worth keeping with an event: never authorization, cookies or signatures. */
export function keptHeaders(c: Context, names: readonly string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of names) {
    const value = c.req.header(name);
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}
