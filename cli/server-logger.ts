// The server's logger (pino), with errors logged in bounded size. A failed query's error carries
// the whole query and every parameter — in its message, again in its stack and once more as
// `params` — so one refused 5 MB event wrote 15 MB of log. Each text of a logged error is cut
// line by line (the stack frames survive a huge first line) and in total; lists and objects
// keep their first items. The log says how much was left out.
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

/** Longest line kept of a text in a logged error, in characters. */
export const MAX_LOGGED_LINE = 300;
/** Most lines kept of one text (a stack has ~10–30). */
const MAX_LINES = 60;
/** Most items of a list and keys of an object kept, and how deep nested values are followed. */
const MAX_ITEMS = 20;
const MAX_NESTING = 6;

/** `eventops serve`'s logger (to stdout unless given a destination): `err` and `error` fields are serialized with boundedError. */
export function createServerLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'eventops' }, serializers: { err: boundedError, error: boundedError } };
  return destination ? pino(options, destination) : pino(options);
}

/** pino's standard error serializer, then every text, list and object in it bounded. */
export function boundedError(error: unknown): unknown {
  return bounded(error instanceof Error ? stdSerializers.err(error) : error, 0);
}

function bounded(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return boundedText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_NESTING) return '[nested too deep to log]';
  if (Array.isArray(value)) {
    const kept = value.slice(0, MAX_ITEMS).map((item) => bounded(item, depth + 1));
    if (value.length > MAX_ITEMS) kept.push(`…(${value.length - MAX_ITEMS} more items)`);
    return kept;
  }
  const entries = Object.entries(value);
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries.slice(0, MAX_ITEMS)) out[boundedText(key)] = bounded(item, depth + 1);
  if (entries.length > MAX_ITEMS) out['…'] = `${entries.length - MAX_ITEMS} more keys`;
  return out;
}

/** Each line cut to MAX_LOGGED_LINE characters, and at most MAX_LINES lines. */
export function boundedText(text: string): string {
  if (text.length <= MAX_LOGGED_LINE && !text.includes('\n')) return text;
  const lines = text.split('\n');
  const kept = lines.slice(0, MAX_LINES).map((line) => (line.length <= MAX_LOGGED_LINE ? line : `${line.slice(0, MAX_LOGGED_LINE)}…(${line.length - MAX_LOGGED_LINE} more characters)`));
  if (lines.length > MAX_LINES) kept.push(`…(${lines.length - MAX_LINES} more lines)`);
  return kept.join('\n');
}
