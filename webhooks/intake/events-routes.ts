// `/api/v1/events`: send an event (scope `events:write`; JSON or YAML; a v1 Event, a CloudEvents
// envelope or an original eventops event), list events, and explain one: per trigger, matched
// or which filter failed and why, and the runs it started.
import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull, type SQL } from 'drizzle-orm';
import { Hono } from 'hono';
import { convertLegacy, detectLegacy, eventKindProblem, firstLineOf, parseYamlValue } from '../../schemas/index.js';
import { events, runs, type Db } from '../../schemas/database/index.js';
import { eventFromDefinition, EventShapeError } from '../../queue/matching/index.js';
import { DEFAULT_LIMITS, type Limits } from '../../config/index.js';
import { requireToken } from '../auth/index.js';
import { badRequest, notFound } from '../api/index.js';
import type { Intake } from './accept-event.js';
import { readRawBody, utf8 } from './raw-body.js';
import { checkStorable } from './storable.js';

export interface EventsRoutesDeps {
  db: Db;
  intake: Intake;
  /** `limits.yaml`: aliases a YAML body may use (default DEFAULT_LIMITS.yaml). */
  yaml?: Limits['yaml'];
}

/** An API event's body is small; webhooks have their own, larger limit. */
const MAX_EVENT_BYTES = 5 * 1024 * 1024;

/** Mounted under `/api/v1`. */
export function eventsRoutes(deps: EventsRoutesDeps): Hono {
  const routes = new Hono();

  routes.post('/events', requireToken({ db: deps.db, scope: 'events:write' }), async (c) => {
    const text = utf8(await readRawBody(c, MAX_EVENT_BYTES));
    const doc = parseDocument(text, c.req.header('content-type') ?? '', deps.intake.maxDepth, deps.yaml ?? DEFAULT_LIMITS.yaml);
    let event;
    try {
      event = eventFromDefinition(doc, { id: randomUUID(), receivedAt: new Date(), source: 'api' });
    } catch (error) {
      if (error instanceof EventShapeError) throw badRequest(error.message);
      throw error;
    }
    const given = (doc as { id?: unknown }).id;
    const deliveryId = typeof given === 'string' && given !== '' ? given : c.req.header('idempotency-key');
    const accepted = await deps.intake.accept({
      source: 'api',
      type: event.type,
      ...(event.subject !== undefined ? { subject: event.subject } : {}),
      ...(deliveryId ? { deliveryId } : {}),
      headers: event.headers,
      labels: event.labels,
      body: event.body,
    });
    return accepted.duplicate ? c.json({ eventId: accepted.eventId, duplicate: true }, 200) : c.json({ eventId: accepted.eventId }, 202);
  });

  routes.get('/events', async (c) => {
    const limit = Number(c.req.query('limit') ?? '50');
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw badRequest('limit must be a whole number from 1 to 500');
    const where: SQL[] = [];
    const status = c.req.query('status');
    const source = c.req.query('source');
    if (status) where.push(eq(events.status, status));
    if (source) where.push(eq(events.source, source));
    const rows = await deps.db
      .select({ id: events.id, source: events.source, type: events.type, action: events.action, subject: events.subject, deliveryId: events.deliveryId, status: events.status, receivedAt: events.receivedAt, matchedAt: events.matchedAt })
      .from(events)
      .where(and(...where))
      .orderBy(desc(events.receivedAt))
      .limit(limit);
    return c.json({ items: rows });
  });

  routes.get('/events/:id', async (c) => {
    const id = c.req.param('id');
    const [row] = /^[0-9a-f-]{36}$/.test(id) ? await deps.db.select().from(events).where(eq(events.id, id)) : [];
    if (!row) throw notFound(`no event with id ${JSON.stringify(id)}`);
    const started = await deps.db
      .select({ id: runs.id, source: runs.source, trigger: runs.trigger, pipeline: runs.pipeline, revisionId: runs.revisionId, status: runs.status, inputs: runs.inputs, createdAt: runs.createdAt })
      .from(runs)
      // The runs the event started; child runs of `pipeline` tasks belong to their parent run.
      .where(and(eq(runs.eventId, id), isNull(runs.parentRunId)));
    return c.json({ ...row, runs: started });
  });

  return routes;
}

/**
 * JSON, or YAML (a superset); an original eventops event is converted to v1 first. Refused
 * (400): what PostgreSQL cannot store or nesting past `maxDepth` (checked before anything
 * walks the document), and a document of another kind or apiVersion than an Event.
 */
function parseDocument(text: string, contentType: string, maxDepth: number, yaml: Limits['yaml']): unknown {
  let doc: unknown;
  try {
    // YAML aliases are counted before values are built: an alias bomb is a 400 naming its line.
    doc = /json/i.test(contentType) ? JSON.parse(text) : parseYamlValue(text, { maxAliases: yaml.maxAliases });
  } catch (error) {
    // The YAML parser recurses: a deep enough flow collection overflows its stack.
    if (error instanceof RangeError) throw badRequest(`the body is nested too deeply to read; at most ${maxDepth} levels of objects and lists (limits.http.maxDepth)`);
    throw badRequest(`the body is not valid ${/json/i.test(contentType) ? 'JSON' : 'YAML or JSON'}: ${firstLineOf((error as Error).message)}`);
  }
  checkStorable(doc, '', maxDepth);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return doc;
  const record = doc as Record<string, unknown>;
  if (detectLegacy(record) === 'event') {
    const conversion = convertLegacy(record, 'event', () => undefined);
    const problem = conversion.problems.find((p) => (p.severity ?? 'error') === 'error');
    if (problem) throw badRequest(`original eventops event: ${problem.message}`);
    return conversion.value;
  }
  const wrongKind = eventKindProblem(record);
  if (wrongKind) throw badRequest(wrongKind);
  return doc;
}
