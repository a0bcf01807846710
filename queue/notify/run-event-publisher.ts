// Sends the stored CloudEvents of runs (`run_events`) to their sinks, behind `publish-run-events`
// jobs: the runs' NATS subjects (`<prefix>.<pipeline>.<run>.<status>`, every event) and the
// `notify` entries of the run's pipeline and trigger (the events their `on` selects). Each sink
// of a run has a cursor (`run_event_cursors`): one process at a time holds its lease and sends
// the events after it in order, moving it on after each, so a subscriber sees a run's events in
// the order they happened and a down sink delays only itself. Delivery is at least once: a retry
// may resend the last event, with the same CloudEvent id (and NATS `Nats-Msg-Id`) to dedupe on.
import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, isNull, lte, or, sql } from 'drizzle-orm';
import { connect, headers as natsHeaders, type JetStreamClient, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { NotifySink, Pipeline, Trigger } from '../../schemas/index.js';
import { definitions, runEventCursors, runEvents, runs, type Db, type RunEventRow, type RunRow } from '../../schemas/database/index.js';
import type { DefinitionsAtRevision } from '../runs/index.js';

export interface RunEventPublisherDeps {
  db: Db;
  definitions: DefinitionsAtRevision;
  /** The NATS server and the prefix of the runs' subjects; absent: no NATS (NATS sinks then fail, saying so). */
  nats?: { url: string; prefix: string };
  /** A secret's value for a definition of `source`; throws when the source may not use it or it is unset. */
  secret(source: string, name: string): string;
  logger: Logger;
  /** Per webhook request; default 10 s. */
  timeoutMs?: number;
  /** How long a sink's lease lasts without progress; default 30 s. */
  leaseMs?: number;
}

export interface RunEventPublisher {
  /** Sends what is pending of `runId` to every sink; throws (to be retried) when a sink failed or was busy. */
  publish(runId: string): Promise<void>;
  /** Whether a transition of `run` has anywhere to go: NATS is configured, or its pipeline or trigger has `notify`. `via`: the caller's transaction. */
  wants(run: RunRow, via?: Pick<Db, 'select'>): Promise<boolean>;
  /** Closes the NATS connection, if one was opened. Idempotent. */
  close(): Promise<void>;
}

interface Sink {
  key: string;
  /** Which `on` values it takes; undefined: all. */
  on?: ReadonlySet<string>;
  send(event: RunEventRow): Promise<void>;
  /** For messages: where it goes, without credentials, paths or queries. */
  label: string;
}

export function createRunEventPublisher(deps: RunEventPublisherDeps): RunEventPublisher {
  const { db } = deps;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const leaseMs = deps.leaseMs ?? 30_000;
  let nats: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;
  const jetstream = () => {
    if (!deps.nats) throw new Error('NATS is not configured: add `nats: { url: … }` to eventops.yaml to publish to NATS sinks');
    const { url } = deps.nats;
    nats ??= connect({ servers: url, name: 'eventops-publisher' }).then((nc) => ({ nc, js: nc.jetstream() }));
    nats.catch(() => (nats = undefined));
    return nats;
  };
  const publishNats = async (subject: string, event: RunEventRow, msgID: string) => {
    const { js } = await jetstream();
    const h = natsHeaders();
    h.set('content-type', 'application/cloudevents+json');
    await js.publish(subject, JSON.stringify(event.event), { msgID, headers: h });
  };

  const triggerCache = new Map<string, Promise<Trigger | undefined>>();
  const triggerAt = (run: RunRow, via: Pick<Db, 'select'> = db) => {
    const key = `${run.source}@${run.revisionId}/${run.trigger}`;
    let hit = triggerCache.get(key);
    if (!hit) {
      hit = via
        .select({ metadata: definitions.metadata, spec: definitions.spec })
        .from(definitions)
        .where(and(eq(definitions.source, run.source), eq(definitions.kind, 'Trigger'), eq(definitions.name, run.trigger), lte(definitions.addedRevisionId, run.revisionId), or(isNull(definitions.removedRevisionId), gt(definitions.removedRevisionId, run.revisionId))))
        .then(([row]) => (row ? ({ apiVersion: 'eventops.dev/v1', kind: 'Trigger', metadata: row.metadata, spec: row.spec } as Trigger) : undefined));
      hit.catch(() => triggerCache.delete(key));
      triggerCache.set(key, hit);
      if (triggerCache.size > 256) triggerCache.delete(triggerCache.keys().next().value as string);
    }
    return hit;
  };

  const notifySink = (run: RunRow, key: string, sink: NotifySink): Sink => {
    const on = new Set<string>(sink.on);
    if (sink.nats !== undefined) {
      const subject = sink.nats;
      return { key, on, label: `NATS subject ${subject}`, send: (event) => publishNats(subject, event, `${key}:${String(event.event.id)}`) };
    }
    const target = sink.url as NonNullable<NotifySink['url']>;
    // A URL that is a secret is never shown, not even its host.
    const label = typeof target === 'string' ? `webhook ${originOf(target)}` : `webhook (URL in secret ${target.secret})`;
    return {
      key,
      on,
      label,
      async send(event) {
        // Resolved at each send, so a rotated secret is picked up; the values never leave this function.
        const extra: Record<string, string> = {};
        for (const [name, value] of Object.entries(sink.headers ?? {})) extra[name] = typeof value === 'string' ? value : deps.secret(run.source, value.secret);
        const url = typeof target === 'string' ? target : deps.secret(run.source, target.secret);
        let response: Response;
        try {
          response = await fetch(url, {
            method: 'POST',
            headers: { ...extra, 'content-type': 'application/cloudevents+json; charset=utf-8' },
            body: JSON.stringify(event.event),
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (error) {
          // fetch's own messages may quote the URL (a secret, or a token in its path): say only what went wrong.
          throw new Error(fetchFailure(error, timeoutMs));
        }
        await response.body?.cancel().catch(() => undefined);
        if (!response.ok) throw new Error(`answered HTTP ${response.status}`);
      },
    };
  };

  async function sinksOf(run: RunRow): Promise<Sink[]> {
    const sinks: Sink[] = [];
    if (deps.nats) {
      const prefix = deps.nats.prefix;
      sinks.push({ key: 'nats', label: `NATS ${prefix}.>`, send: (event) => publishNats(`${prefix}.${event.subject}`, event, String(event.event.id)) });
    }
    const pipeline: Pipeline | undefined = (await deps.definitions.get(run.source, run.revisionId)).pipelines.get(run.pipeline);
    (pipeline?.spec.notify ?? []).forEach((sink, i) => sinks.push(notifySink(run, `pipeline/${i}`, sink)));
    // A trigger's `notify` is about the runs it started, not their child runs.
    if (run.parentRunId === null) ((await triggerAt(run))?.spec.notify ?? []).forEach((sink, i) => sinks.push(notifySink(run, `trigger/${i}`, sink)));
    return sinks;
  }

  /**
   * Takes the sink's lease; the cursor, or undefined when still busy after a lease's length. Jobs
   * of one run's transitions often overlap: the later one waits for the earlier one to finish (or
   * for its lease to run out, if its process died) and then sends what is left.
   */
  async function claim(runId: string, sink: string, owner: string): Promise<number | undefined> {
    await db.insert(runEventCursors).values({ runId, sink }).onConflictDoNothing();
    for (const until = Date.now() + leaseMs + 1_000; Date.now() < until; ) {
      const [row] = await db
        .update(runEventCursors)
        .set({ leaseOwner: owner, leaseUntil: sql`now() + ${leaseMs}::double precision * interval '1 millisecond'` })
        .where(and(eq(runEventCursors.runId, runId), eq(runEventCursors.sink, sink), or(isNull(runEventCursors.leaseUntil), sql`${runEventCursors.leaseUntil} < now()`)))
        .returning({ sent: runEventCursors.sent });
      if (row) return row.sent;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return undefined;
  }

  async function deliver(runId: string, sink: Sink, owner: string): Promise<string | undefined> {
    const sent = await claim(runId, sink.key, owner);
    if (sent === undefined) return `${sink.label}: another worker is sending to it`;
    const mine = and(eq(runEventCursors.runId, runId), eq(runEventCursors.sink, sink.key), eq(runEventCursors.leaseOwner, owner));
    let problem: string | undefined;
    try {
      const pending = await db.select().from(runEvents).where(and(eq(runEvents.runId, runId), gt(runEvents.seq, sent))).orderBy(asc(runEvents.seq));
      for (const event of pending) {
        if (!sink.on || sink.on.has(event.on)) await sink.send(event);
        // Progress is kept event by event (and the lease renewed), so a retry resumes after the last one sent.
        await db.update(runEventCursors).set({ sent: event.seq, error: null, updatedAt: sql`now()`, leaseUntil: sql`now() + ${leaseMs}::double precision * interval '1 millisecond'` }).where(mine);
      }
    } catch (error) {
      problem = `${sink.label}: ${error instanceof Error ? error.message : String(error)}`;
    }
    await db.update(runEventCursors).set({ leaseUntil: null, leaseOwner: null, ...(problem ? { error: problem } : {}) }).where(mine);
    return problem;
  }

  let closing: Promise<void> | undefined;
  return {
    async wants(run, via = db) {
      if (deps.nats) return true;
      const pipeline = (await deps.definitions.get(run.source, run.revisionId, via)).pipelines.get(run.pipeline);
      if ((pipeline?.spec.notify ?? []).length > 0) return true;
      return run.parentRunId === null && ((await triggerAt(run, via))?.spec.notify ?? []).length > 0;
    },
    async publish(runId) {
      const [run] = await db.select().from(runs).where(eq(runs.id, runId));
      if (!run) return;
      const owner = randomUUID();
      const problems: string[] = [];
      for (const sink of await sinksOf(run)) {
        const problem = await deliver(runId, sink, owner);
        if (problem) problems.push(problem);
      }
      if (problems.length > 0) {
        deps.logger.warn({ runId, problems }, 'run events not delivered to every sink; retrying');
        throw new Error(`events of run ${runId} not delivered: ${problems.join('; ')}`);
      }
    },
    close: () =>
      (closing ??= (async () => {
        const open = await nats?.catch(() => undefined);
        await open?.nc.drain().catch(() => open.nc.close());
      })()),
  };
}

/** Why a request failed, without the URL: a timeout, the network error's code, or that the URL is invalid. */
function fetchFailure(error: unknown, timeoutMs: number): string {
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return `request failed (${cause.code})`;
  if (error instanceof TypeError && /parse URL|Invalid URL/i.test(error.message)) return 'the URL is not valid';
  return 'request failed';
}

/** `https://host:port` of a URL: enough to say where, never its path, query or credentials (tokens live there). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}
