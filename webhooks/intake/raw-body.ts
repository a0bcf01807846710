// Reads a request body as raw bytes with a size limit, before anything parses it: signatures
// are checked on exactly these bytes.
import type { Context } from 'hono';
import { ApiError } from '../api/index.js';

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

/** The body as UTF-8 text; invalid UTF-8 is a 400 (a signature over replaced bytes would mislead). */
export function utf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, 'BadRequest', 'the body is not valid UTF-8');
  }
}

/** Parses JSON; a body Postgres cannot store as jsonb (a NUL character) is refused too. */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'BadRequest', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (text.includes('\\u0000')) throw new ApiError(400, 'BadRequest', 'the body contains a NUL character (\\u0000), which cannot be stored');
  return value;
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
