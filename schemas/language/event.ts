// The Event kind: what `eventops event send` and `POST /api/v1/events` take. Such an event
// arrives with `source: api`.
import { Type, type Static } from '@sinclair/typebox';
import { API_VERSION } from './common.js';

export const Event = Type.Object(
  {
    apiVersion: Type.Optional(Type.Literal('eventops.dev/v1')),
    kind: Type.Optional(Type.Literal('Event')),
    id: Type.Optional(Type.String({ minLength: 1, description: 'A delivery id; a second event with the same id is a duplicate.' })),
    type: Type.String({ minLength: 1, description: 'Triggers match `event.type`.' }),
    subject: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.Unknown({ description: 'Any data; `event.body` in expressions.' })),
  },
  { additionalProperties: false, title: 'eventops Event', description: 'An event sent by the API or CLI.' },
);
export type Event = Static<typeof Event>;

/** What `POST /api/v1/events` takes, for messages that refuse something else. */
export const ACCEPTED_EVENTS = `an Event (apiVersion ${API_VERSION}, kind Event, or the same fields without them as plain JSON with a \`type\`) or a CloudEvents 1.0 envelope (\`specversion\`)`;

/**
 * Why a document given as an event is another kind or version (a Pipeline, `eventops.dev/v2`);
 * undefined when its `apiVersion` and `kind`, where given, are an Event's. A CloudEvents
 * envelope (`specversion`) has neither and is not judged here.
 */
export function eventKindProblem(doc: Record<string, unknown>): string | undefined {
  if ('specversion' in doc) return undefined;
  const { apiVersion, kind } = doc;
  if (kind !== undefined && kind !== 'Event') {
    return `this is ${typeof kind === 'string' ? `a \`kind: ${kind.slice(0, 40)}\` document` : 'a document whose `kind` is not text'}, not an event; this takes ${ACCEPTED_EVENTS}${typeof kind === 'string' && kind !== '' ? ' (definitions come from a source, not from the events API)' : ''}`;
  }
  if (apiVersion !== undefined && apiVersion !== API_VERSION) {
    return `apiVersion ${typeof apiVersion === 'string' ? JSON.stringify(apiVersion.slice(0, 40)) : 'that is not text'} is not one this server knows; this takes ${ACCEPTED_EVENTS}`;
  }
  return undefined;
}
