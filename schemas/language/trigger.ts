// The Trigger kind: which events start which pipelines, with filters, a slash-command,
// a schedule, dedupe and reporting.
import { Type, type Static } from '@sinclair/typebox';
import { definitionSchema, Duration, Name } from './common.js';
import { Notify } from './notify.js';

const strict = { additionalProperties: false } as const;

export const Permissions = ['read', 'triage', 'write', 'maintain', 'admin'] as const;
export const CommentModes = ['always', 'never', 'on-command', 'on-failure'] as const;
export const MatchModes = ['exact', 'regex', 'prefix', 'glob'] as const;

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

export const TriggerFilter = Type.Object(
  {
    path: Type.Optional(Type.String({ minLength: 1, description: 'Dotted path into the event: `body.ref`, `headers.x-foo`, `subject`.' })),
    value: Type.Optional(Type.Union([Type.Array(Scalar, { minItems: 1 }), Scalar], { description: 'Any of these values matches.' })),
    match: Type.Optional(Type.Union(MatchModes.map((m) => Type.Literal(m)), { description: 'Default: exact.' })),
    expr: Type.Optional(Type.String({ minLength: 1, description: 'A CEL expression over the event (`body`, `headers`, `event`).' })),
  },
  strict,
);
export type TriggerFilter = Static<typeof TriggerFilter>;

export const TriggerSpec = Type.Object(
  {
    description: Type.Optional(Type.String()),
    event: Type.Optional(
      Type.Object(
        {
          source: Type.Optional(Type.String({ description: '`github`, `webhook/<name>`, `api`, `nats` or `schedule`.' })),
          type: Type.Optional(Type.String({ minLength: 1 })),
          subject: Type.Optional(Type.String({ minLength: 1 })),
        },
        strict,
      ),
    ),
    command: Type.Optional(Type.String({ description: 'A slash-command in an issue or PR comment, e.g. `/deploy`.' })),
    permission: Type.Optional(Type.Union(Permissions.map((p) => Type.Literal(p)))),
    schedule: Type.Optional(Type.String({ description: 'A cron expression (5 or 6 fields), with `event.source: schedule`.' })),
    timezone: Type.Optional(Type.String()),
    filters: Type.Optional(Type.Array(TriggerFilter)),
    filtersOperator: Type.Optional(Type.Union([Type.Literal('and'), Type.Literal('or')])),
    pipelines: Type.Array(
      Type.Object({ name: Name, inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }, strict),
      { minItems: 1 },
    ),
    dedupe: Type.Optional(Type.String()),
    dedupeWindow: Type.Optional(Duration),
    report: Type.Optional(
      Type.Object(
        {
          checks: Type.Optional(Type.Boolean()),
          comment: Type.Optional(Type.Union(CommentModes.map((c) => Type.Literal(c)))),
        },
        strict,
      ),
    ),
    notify: Type.Optional(Notify),
  },
  strict,
);
export type TriggerSpec = Static<typeof TriggerSpec>;

export const Trigger = definitionSchema('Trigger', TriggerSpec, 'Which events start which pipelines.');
export type Trigger = Static<typeof Trigger>;
