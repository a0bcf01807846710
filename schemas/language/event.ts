// The Event kind: what `eventops event send` and `POST /api/v1/events` take. Such an event
// arrives with `source: api`.
import { Type, type Static } from '@sinclair/typebox';

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
