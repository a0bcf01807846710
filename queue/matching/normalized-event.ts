// The one shape trigger matching works on, whatever the event came from (a GitHub webhook, a
// generic webhook, the API, NATS, a schedule), and the `event` object expressions read from it.
// Header names are lower-case here so `headers.X-Foo` and `headers.x-foo` find the same value.

export interface NormalizedEvent {
  /** The sender's delivery id when it gave one, else the id eventops gave the event. */
  id: string;
  /** Where it came from: `github`, `webhook/<receiver>`, `api`, `nats` or `schedule`. */
  source: string;
  /** The GitHub event name (`pull_request`), a CloudEvents type, or an API event's `type`. */
  type: string;
  /** GitHub's `action` (`opened`), when the payload has one. */
  action?: string;
  subject?: string;
  /** Lower-case names. Only headers worth filtering on: never authorization or signatures. */
  headers: Record<string, string>;
  labels: Record<string, string>;
  body: unknown;
  receivedAt: Date;
}

/**
 * A schedule tick (source `schedule`) is for one trigger only, named by the scheduler in the
 * labels `source` and `trigger`: otherwise every schedule trigger would fire on every tick.
 */
export function scheduleTarget(event: NormalizedEvent): { source: string; trigger: string } | undefined {
  if (event.source !== 'schedule') return undefined;
  const { source, trigger } = event.labels;
  return source !== undefined && trigger !== undefined ? { source, trigger } : undefined;
}

export type EventFields = Omit<NormalizedEvent, 'headers' | 'labels' | 'body'> & {
  headers?: Record<string, string>;
  labels?: Record<string, string>;
  body?: unknown;
};

/** Builds an event from its fields: header names lower-cased, absent maps empty, absent body null. */
export function createEvent(fields: EventFields): NormalizedEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields.headers ?? {})) headers[name.toLowerCase()] = value;
  const event: NormalizedEvent = {
    id: fields.id,
    source: fields.source,
    type: fields.type,
    headers,
    labels: { ...(fields.labels ?? {}) },
    body: fields.body === undefined ? null : fields.body,
    receivedAt: fields.receivedAt,
  };
  if (fields.action !== undefined) event.action = fields.action;
  if (fields.subject !== undefined) event.subject = fields.subject;
  return event;
}

/**
 * The `event` that `${{ }}` expressions read (docs/definitions.md §7): id, source, type,
 * subject, labels, headers, body and time (RFC 3339). `subject` is absent rather than null
 * when the event has none, so `has(event.subject)` tells.
 */
export function eventView(event: NormalizedEvent): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: event.id,
    source: event.source,
    type: event.type,
    labels: event.labels,
    headers: event.headers,
    body: event.body,
    time: event.receivedAt.toISOString(),
  };
  if (event.subject !== undefined) view.subject = event.subject;
  return view;
}
