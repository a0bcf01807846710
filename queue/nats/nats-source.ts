// Events from NATS JetStream: one durable pull consumer per configured subject filter on the
// configured stream. A message is acknowledged only after its event row is committed, so a crash
// or a database outage redelivers it instead of losing it; redeliveries are stored once (the
// delivery id is the CloudEvents id, or stream and sequence). A CloudEvents JSON message gives the
// event its type and id; any other JSON (or text) is the body of an event whose type is
// the NATS subject.
import { AckPolicy, DeliverPolicy, connect, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import { cloudEventOf } from '../matching/index.js';

export interface NatsSourceOptions {
  /** `nats://127.0.0.1:4222` */
  url: string;
  stream: string;
  /** Subject filters (`ops.clusters.>`), one durable consumer each. */
  subjects: readonly string[];
  /** Prefix of the durable consumer names; default `eventops`. */
  durable?: string;
  /** Persists the event (idempotent by source and delivery id). */
  accept(event: { source: 'nats'; type: string; subject: string; deliveryId: string; headers: Record<string, string>; labels: Record<string, string>; body: unknown }): Promise<unknown>;
  reportError(error: unknown, context: string): void;
  /** Delay before a message whose event could not be stored is offered again; default 1000 ms. */
  retryMs?: number;
  /** True for an error of `accept` that a retry cannot cure (the event itself is refused): the message is terminated, not offered again. Default: none is. */
  isPermanent?(error: unknown): boolean;
}

export interface NatsSource {
  /** Stops consuming (in-flight messages finish first) and closes the connection. Idempotent. */
  close(): Promise<void>;
}

/** A stable durable name for a subject filter (consumer names cannot hold `.`, `*` or `>`). */
export function durableName(prefix: string, subject: string): string {
  return `${prefix}-${subject.replace(/\./g, '_').replace(/\*/g, 'STAR').replace(/>/g, 'GT')}`.slice(0, 200);
}

export async function startNatsSource(options: NatsSourceOptions): Promise<NatsSource> {
  const nc: NatsConnection = await connect({ servers: options.url, name: 'eventops' });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const loops: Promise<void>[] = [];
  const streams: ConsumerMessages[] = [];
  for (const subject of options.subjects) {
    const durable = durableName(options.durable ?? 'eventops', subject);
    // Creating an existing durable with the same settings is a no-op.
    await jsm.consumers.add(options.stream, { durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    const consumer = await js.consumers.get(options.stream, durable);
    const messages = await consumer.consume({ max_messages: 100 });
    streams.push(messages);
    loops.push(
      (async () => {
        for await (const msg of messages) await handle(msg, options);
      })().catch((error: unknown) => options.reportError(error, `nats consumer ${durable}`)),
    );
  }
  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        for (const messages of streams) messages.stop();
        await Promise.allSettled(loops);
        await nc.drain().catch(() => nc.close());
      })()),
  };
}

async function handle(msg: JsMsg, options: NatsSourceOptions): Promise<void> {
  try {
    await options.accept(toEvent(msg, options.stream));
    msg.ack();
  } catch (error) {
    const permanent = options.isPermanent?.(error) ?? false;
    options.reportError(error, `nats message ${options.stream}#${msg.info.streamSequence} on ${msg.subject}${permanent ? ' (refused; not offered again)' : ''}`);
    // A refused event would be refused at every redelivery, once a second, for ever.
    if (permanent) msg.term();
    else msg.nak(options.retryMs ?? 1000);
  }
}

/** The event a message stands for. */
export function toEvent(msg: Pick<JsMsg, 'subject' | 'data' | 'info' | 'headers'>, stream: string) {
  const text = new TextDecoder().decode(msg.data);
  let body: unknown = text;
  try {
    body = text.trim() === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    // Not JSON: the text itself is the body (nothing is dropped).
  }
  const envelope = cloudEventOf(body, 'nats', new Date());
  const headers: Record<string, string> = {};
  for (const [key, values] of msg.headers ?? []) headers[key.toLowerCase()] = values.join(', ');
  return {
    source: 'nats' as const,
    type: envelope?.type ?? msg.subject,
    // Triggers match NATS subjects (with `*` and `>`); a CloudEvent's own subject is kept as a label.
    subject: msg.subject,
    deliveryId: envelope?.id || `${stream}:${msg.info.streamSequence}`,
    headers: { ...headers, ...envelope?.headers },
    labels: { 'nats.stream': stream, ...(envelope?.subject ? { 'ce.subject': envelope.subject } : {}) },
    body: envelope ? envelope.body : body,
  };
}
