// Turns what senders write into a NormalizedEvent: a v1 Event document (docs/definitions.md §9)
// or the same fields as JSON, a CloudEvents 1.0 JSON envelope, or a raw GitHub webhook payload.
// Pure: the id and arrival time of events that carry none are given by the caller.
import { createEvent, type NormalizedEvent } from './normalized-event.js';

/** The document is not an event; the message says what is missing or wrong. */
export class EventShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventShapeError';
  }
}

/** What the caller knows about an arriving event besides its document. */
export interface Arrival {
  /** Used when the document carries no id of its own. */
  id: string;
  receivedAt: Date;
  /** Where it arrived; default `api` (`eventops event send`, `POST /api/v1/events`). */
  source?: string;
}

const EVENT_FIELDS = new Set(['apiVersion', 'kind', 'id', 'type', 'subject', 'labels', 'body']);
// CloudEvents attributes that become fields of the event itself rather than `ce-*` headers.
const CLOUDEVENT_OWN = new Set(['type', 'subject', 'id', 'data', 'data_base64']);

/**
 * Reads a v1 Event, the same fields as plain JSON, or a CloudEvents envelope (recognised by
 * `specversion`; `data` becomes `body`, and its other attributes — `source`, `time`,
 * extensions — become `ce-<name>` headers, as in the CloudEvents HTTP binding).
 * Throws EventShapeError when `doc` is none of these.
 */
export function eventFromDefinition(doc: unknown, arrival: Arrival): NormalizedEvent {
  if (!isRecord(doc)) throw new EventShapeError('an event is a mapping with at least a `type`');
  const source = arrival.source ?? 'api';
  if ('specversion' in doc) return fromCloudEvent(doc, arrival, source);
  const unknown = Object.keys(doc).filter((k) => !EVENT_FIELDS.has(k));
  if (unknown.length > 0) {
    throw new EventShapeError(
      `an event has the fields ${[...EVENT_FIELDS].join(', ')}; not ${unknown.map((k) => `\`${k}\``).join(', ')}` +
        (typeof doc.type === 'string' ? '' : ' (for a raw GitHub payload, say which event it is: --github-event NAME)'),
    );
  }
  return createEvent({
    id: optionalText(doc.id, 'id') ?? arrival.id,
    source,
    type: requiredType(doc.type),
    ...optional('subject', optionalText(doc.subject, 'subject')),
    labels: labelsOf(doc.labels),
    body: doc.body,
    receivedAt: arrival.receivedAt,
  });
}

export interface GithubDelivery {
  /** The `X-GitHub-Event` header: `push`, `pull_request`, `issue_comment`, … */
  event: string;
  /** The `X-GitHub-Delivery` header; becomes the event id. */
  delivery?: string;
  /** Other headers worth keeping (never the signature). */
  headers?: Record<string, string>;
}

/** A GitHub webhook payload: `type` is the event name and `action` the payload's `action`. */
export function eventFromGithub(payload: unknown, delivery: GithubDelivery, arrival: Arrival): NormalizedEvent {
  if (!isRecord(payload)) throw new EventShapeError('a GitHub webhook payload is a JSON object');
  const headers: Record<string, string> = { ...(delivery.headers ?? {}), 'x-github-event': delivery.event };
  if (delivery.delivery !== undefined) headers['x-github-delivery'] = delivery.delivery;
  return createEvent({
    id: delivery.delivery ?? arrival.id,
    source: arrival.source ?? 'github',
    type: delivery.event,
    ...optional('action', typeof payload.action === 'string' ? payload.action : undefined),
    headers,
    body: payload,
    receivedAt: arrival.receivedAt,
  });
}

/**
 * A CloudEvents JSON envelope (structured mode, as webhooks and NATS messages carry it) read as
 * an event — its id '' when it has none; undefined for anything that is not a usable envelope.
 */
export function cloudEventOf(value: unknown, source: string, receivedAt: Date): NormalizedEvent | undefined {
  if (!isRecord(value) || !('specversion' in value)) return undefined;
  try {
    return fromCloudEvent(value, { id: '', receivedAt }, source);
  } catch (error) {
    if (error instanceof EventShapeError) return undefined;
    throw error;
  }
}

function fromCloudEvent(doc: Record<string, unknown>, arrival: Arrival, source: string): NormalizedEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(doc)) {
    if (CLOUDEVENT_OWN.has(name) || value === undefined || value === null) continue;
    headers[`ce-${name.toLowerCase()}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  let body: unknown = doc.data;
  if (body === undefined && typeof doc.data_base64 === 'string') body = base64Text(doc.data_base64);
  return createEvent({
    id: optionalText(doc.id, 'id') ?? arrival.id,
    source,
    type: requiredType(doc.type),
    ...optional('subject', optionalText(doc.subject, 'subject')),
    headers,
    body,
    receivedAt: arrival.receivedAt,
  });
}

/** `data_base64` as the text it encodes: the body is stored as text, so bytes that are not UTF-8 text (or hold a NUL) are refused, not mangled. */
function base64Text(encoded: string): string {
  const bytes = Buffer.from(encoded, 'base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new EventShapeError('`data_base64` decodes to bytes that are not UTF-8 text; eventops stores an event body as text or JSON, so send text (or JSON in `data`)');
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) throw new EventShapeError(`\`data_base64\` decodes to text with a NUL byte (at byte ${Buffer.byteLength(text.slice(0, nul))}), which cannot be stored; send text (or JSON in \`data\`)`);
  return text;
}

function requiredType(value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new EventShapeError('an event needs a `type` (text), e.g. `type: deploy.requested`; for a raw GitHub payload, say which event it is: --github-event NAME');
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new EventShapeError(`the event's \`${field}\` must be text`);
}

/** Label values are text; a number or boolean from JSON becomes its text. */
function labelsOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new EventShapeError('`labels` is a mapping of names to text, e.g. `labels: { env: staging }`');
  const labels: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string') labels[name] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') labels[name] = String(v);
    else throw new EventShapeError(`the label \`${name}\` must be text, not ${v === null ? 'null' : Array.isArray(v) ? 'a list' : 'a mapping'}`);
  }
  return labels;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
