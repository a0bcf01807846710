// `POST /webhooks/generic/<name>`: receivers declared in eventops.yaml, each authenticated by a
// bearer token or an HMAC-SHA256 signature of the raw bytes (both compared in constant time)
// before the body is parsed; an unknown receiver, a wrong token or a missing signature is refused
// before the body is even read. A CloudEvents request (structured JSON with `specversion`, or binary
// mode with `ce-*` headers) gives the event its type, subject and id; otherwise the type is the
// `X-Event-Type` header or `webhook`, and the delivery id `X-Delivery-Id` / `Idempotency-Key`.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { ReceiverConfig } from '../../config/index.js';
import { cloudEventOf } from '../../queue/matching/index.js';
import { ApiError } from '../api/index.js';
import type { IncomingEvent, Intake } from './accept-event.js';
import { keptHeaders, parseJsonBody, readRawBody, utf8 } from './raw-body.js';

export interface GenericReceiverDeps {
  intake: Intake;
  receivers: readonly ReceiverConfig[];
  /** A secret's value by name (undefined when it is not set). */
  secret(name: string): string | undefined;
}

const KEPT_HEADERS = ['content-type', 'user-agent', 'x-event-type', 'x-delivery-id', 'idempotency-key', 'ce-type', 'ce-id', 'ce-source', 'ce-subject', 'ce-specversion'];

export function genericReceiver(deps: GenericReceiverDeps): Hono {
  const app = new Hono();
  const byName = new Map(deps.receivers.map((r) => [r.name, r]));
  app.post('/webhooks/generic/:name', async (c) => {
    const name = c.req.param('name');
    const receiver = byName.get(name);
    if (!receiver) throw new ApiError(404, 'NotFound', `no receiver named ${JSON.stringify(name)} is configured (receivers in eventops.yaml)`);
    // The token, or the signature's presence, is checked before a byte of the body is read.
    const header = (h: string) => c.req.header(h);
    authenticateHeaders(receiver, header, deps.secret);
    const raw = await readRawBody(c);
    authenticateBody(receiver, raw, header, deps.secret);
    const text = utf8(raw);
    const body = text.trim() === '' ? null : parseJsonBody(text, deps.intake.maxDepth);
    const source = `webhook/${name}`;
    const envelope = cloudEventOf(body, source, new Date());
    const type = envelope?.type ?? c.req.header('ce-type') ?? c.req.header('x-event-type') ?? 'webhook';
    const subject = envelope?.subject ?? c.req.header('ce-subject');
    const deliveryId = envelope?.id || (c.req.header('ce-id') ?? c.req.header('x-delivery-id') ?? c.req.header('idempotency-key'));
    const event: IncomingEvent = {
      source,
      type,
      ...(subject ? { subject } : {}),
      ...(deliveryId ? { deliveryId } : {}),
      headers: { ...keptHeaders(c, KEPT_HEADERS), ...envelope?.headers },
      labels: {},
      body: envelope ? envelope.body : body,
    };
    const accepted = await deps.intake.accept(event);
    return accepted.duplicate ? c.json({ eventId: accepted.eventId, duplicate: true }, 200) : c.json({ eventId: accepted.eventId }, 202);
  });
  return app;
}

/** What needs no body: the receiver's secret is set, a bearer token is right, an HMAC signature is present. */
function authenticateHeaders(receiver: ReceiverConfig, header: (name: string) => string | undefined, secret: (name: string) => string | undefined): void {
  const value = secretOf(receiver, secret);
  if ('bearer' in receiver.auth) {
    const given = /^Bearer\s+(.+)$/i.exec(header('authorization') ?? '')?.[1];
    if (!given || !sameText(given, value)) throw new ApiError(401, 'Unauthorized', `receiver ${receiver.name} needs Authorization: Bearer <its token>`);
    return;
  }
  if (!header(receiver.auth.hmac.header)) throw new ApiError(401, 'Unauthorized', `receiver ${receiver.name}: missing its ${receiver.auth.hmac.header} signature header`);
}

/** An HMAC receiver's signature over the raw bytes (bearer receivers were done by authenticateHeaders). */
function authenticateBody(receiver: ReceiverConfig, raw: Buffer, header: (name: string) => string | undefined, secret: (name: string) => string | undefined): void {
  if ('bearer' in receiver.auth) return;
  const { header: name, prefix } = receiver.auth.hmac;
  const given = header(name);
  const expected = prefix + createHmac('sha256', secretOf(receiver, secret)).update(raw).digest('hex');
  if (!given || !sameText(given, expected)) throw new ApiError(401, 'Unauthorized', `receiver ${receiver.name}: the ${name} signature does not match`);
}

function secretOf(receiver: ReceiverConfig, secret: (name: string) => string | undefined): string {
  const name = 'bearer' in receiver.auth ? receiver.auth.bearer : receiver.auth.hmac.secret;
  const value = secret(name);
  if (value === undefined) throw new ApiError(503, 'NotConfigured', `receiver ${receiver.name}: its secret ${name} is not set on the server`);
  return value;
}

/** Constant-time comparison of two texts of any length (compares their digests). */
function sameText(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
