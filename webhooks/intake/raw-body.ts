// Reads a request body as raw bytes with a size limit, before anything parses it: signatures
// are checked on exactly these bytes.
import type { Context } from 'hono';
import { DEFAULT_LIMITS } from '../../config/index.js';
import { ApiError } from '../api/index.js';
import { checkStorable } from './storable.js';

/** GitHub's own limit for webhook payloads. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

export async function readRawBody(c: Context, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > limit) throw new ApiError(413, 'PayloadTooLarge', `the body is ${declared} bytes; at most ${limit} are accepted`);
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > limit) throw new ApiError(413, 'PayloadTooLarge', `the body is over ${limit} bytes`);
    chunks.push(chunk);
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
