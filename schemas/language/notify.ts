// `notify`: where a Pipeline or a Trigger sends CloudEvents about its runs besides the
// `eventops.runs.>` NATS subjects — webhook URLs (POSTed in CloudEvents structured mode) and NATS
// subjects — and which run and task statuses each wants. Like the seeds' step webhooks
// (`url` + `events`) and Argo Events' HTTP trigger headers, with header values (and the URL) that
// are either plain text or `{ secret: NAME }` references resolved when the event is sent.
import { Type, type Static } from '@sinclair/typebox';
import { SecretRef } from './common.js';

/** Run statuses a sink may ask for (`started`: the run left `pending`). */
export const RunNotifyStatuses = ['started', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
/** Task statuses a sink may ask for, written `task.<status>`. */
export const TaskNotifyStatuses = ['queued', 'started', 'waiting_approval', 'succeeded', 'failed', 'skipped', 'cancelled', 'timed_out'] as const;
/** Every value `on` accepts. */
export const NotifyOn = [...RunNotifyStatuses, ...TaskNotifyStatuses.map((s) => `task.${s}` as const)] as const;
export type NotifyOn = (typeof NotifyOn)[number];

export const NotifySink = Type.Object(
  {
    url: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), SecretRef], {
        description: 'An http(s) URL that receives a POST of each CloudEvent (structured mode, `application/cloudevents+json`); `{ secret: NAME }` when the URL itself is the credential (Slack, Discord, Feishu hooks).',
      }),
    ),
    nats: Type.Optional(Type.String({ minLength: 1, description: 'A NATS subject (no wildcards) the CloudEvents are published to, on the NATS server of eventops.yaml.' })),
    on: Type.Array(Type.Union(NotifyOn.map((s) => Type.Literal(s))), {
      minItems: 1,
      description: 'Which changes are sent: run statuses (`started`, `succeeded`, `failed`, `cancelled`, `timed_out`) and task statuses (`task.succeeded`, `task.failed`, …).',
    }),
    headers: Type.Optional(
      Type.Record(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), Type.Union([Type.String(), SecretRef]), {
        description: 'Extra HTTP headers of a `url` sink; a credential as `{ secret: NAME }` (one of the source\'s allowed secrets).',
      }),
    ),
  },
  { additionalProperties: false, description: 'One notification sink: exactly one of `url` or `nats`, and the statuses it receives.' },
);
export type NotifySink = Static<typeof NotifySink>;

export const Notify = Type.Array(NotifySink, { description: 'CloudEvents about this definition\'s runs, sent to webhooks or NATS subjects.' });
