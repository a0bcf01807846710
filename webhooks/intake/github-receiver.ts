// `POST /webhooks/github`: the signature (X-Hub-Signature-256, HMAC-SHA256 of the raw bytes,
// compared in constant time by @octokit/webhooks-methods) is checked against every configured
// secret — several while one is rotated — before the body is parsed; a bad or missing one is a
// 401 and nothing is stored (a missing one, or a missing event header, before the body is read). Then the event is persisted and answered 202 (200 for a redelivery).
import { verifyWithFallback } from '@octokit/webhooks-methods';
import { Hono } from 'hono';
import { ApiError } from '../api/index.js';
import type { IncomingEvent, Intake } from './accept-event.js';
import { keptHeaders, parseJsonBody, readRawBody, utf8 } from './raw-body.js';

export interface GithubReceiverDeps {
  intake: Intake;
  /** The webhook secrets' values, read at each request (so a rotated file is picked up). */
  secrets(): string[];
  /** Told about every accepted (non-duplicate) event: a push may ask for a reconcile. */
  onEvent?(event: IncomingEvent): void;
}

const KEPT_HEADERS = ['x-github-event', 'x-github-delivery', 'x-github-hook-id', 'x-github-hook-installation-target-type', 'x-github-hook-installation-target-id', 'user-agent', 'content-type'];

export function githubReceiver(deps: GithubReceiverDeps): Hono {
  const app = new Hono();
  app.post('/webhooks/github', async (c) => {
    const [first, ...others] = deps.secrets();
    if (first === undefined) throw new ApiError(503, 'NotConfigured', 'GitHub webhooks are not configured on this server: set github.webhookSecrets in eventops.yaml');
    // Everything the headers alone can refuse is refused before a byte of the body is read: an
    // unauthenticated client must not make the server hold its body.
    const signature = c.req.header('x-hub-signature-256');
    if (!signature) throw new ApiError(401, 'Unauthorized', 'missing X-Hub-Signature-256: set the webhook secret in the GitHub webhook settings');
    const type = c.req.header('x-github-event');
    const deliveryId = c.req.header('x-github-delivery');
    if (!type || !deliveryId) throw new ApiError(400, 'BadRequest', 'missing X-GitHub-Event or X-GitHub-Delivery header');
    const text = utf8(await readRawBody(c));
    const valid = await verifyWithFallback(first, text, signature, others).catch(() => false);
    if (!valid) throw new ApiError(401, 'Unauthorized', 'the X-Hub-Signature-256 signature does not match any configured webhook secret');
    const body = parseJsonBody(text, deps.intake.maxDepth);
    const record = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
    const repository = record.repository as { full_name?: unknown } | undefined;
    const event: IncomingEvent = {
      source: 'github',
      type,
      ...(typeof record.action === 'string' ? { action: record.action } : {}),
      ...(typeof repository?.full_name === 'string' ? { subject: repository.full_name } : {}),
      deliveryId,
      headers: keptHeaders(c, KEPT_HEADERS),
      labels: {},
      body,
    };
    const accepted = await deps.intake.accept(event);
    if (accepted.duplicate) return c.json({ eventId: accepted.eventId, duplicate: true }, 200);
    deps.onEvent?.(event);
    return c.json({ eventId: accepted.eventId }, 202);
  });
  return app;
}
