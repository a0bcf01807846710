// The `cursor` of `GET /api/v1/runs`: where the last page stopped, as (createdAt, id) of its last
// run, opaque to clients (base64url of JSON). The time keeps PostgreSQL's microseconds: a
// millisecond Date would skip or repeat runs created within the same millisecond.

export interface RunCursor {
  /** `created_at` in UTC with microseconds, e.g. `2025-05-01T10:00:00.123456Z`. */
  createdAt: string;
  id: string;
}

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

export function encodeRunCursor(cursor: RunCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id]), 'utf8').toString('base64url');
}

/** The cursor, or undefined when `text` is not one this server made (so the caller answers 400). */
export function decodeRunCursor(text: string): RunCursor | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [createdAt, id] = value as unknown[];
  if (typeof createdAt !== 'string' || !isTime(createdAt) || typeof id !== 'string' || id === '') return undefined;
  return { createdAt, id };
}

/** A well-formed time PostgreSQL accepts: V8 alone would take 31 February, which PostgreSQL refuses (a 500). */
function isTime(text: string): boolean {
  if (!TIME.test(text)) return false;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === text.slice(0, 19);
}
