// `/api/v1/runs`: list runs (filtered, newest first, cursor-paged), one run with its tasks, its
// log (JSON pages of at most limits.logs.pageBytes, streamed out; or followed as server-sent
// events, all followers of a run served by one feed, their number capped), and, with the `runs:write` scope, cancelling a
// run and deciding an approval task. The changes go through the run engine, which owns every
// transition of a run; these routes only read the tables.
import { Hono } from 'hono';
import type { RunEngine } from '../../queue/index.js';
import type { Db } from '../../schemas/database/index.js';
import { requireToken } from '../auth/index.js';
import { ApiError, badRequest, notFound } from './api-error.js';
import { decodeRunCursor } from './run-cursor.js';
import { DEFAULT_LIMITS, type Limits } from '../../config/index.js';
import { createLogFeeds, type LogFeeds } from './run-log-feed.js';
import { streamLogPage } from './run-log-page.js';
import { followRunLog } from './run-log-stream.js';
import { getRun, listRuns, runNeeds, runState, toTaskItem, type RunFilter } from './run-queries.js';
import { FINISHED_RUN_STATUSES, RUN_STATUSES, type CancelAnswer, type DecisionAnswer } from './run-types.js';

/** The part of the run engine the routes use: what a person may do to a run. */
export type RunsEngine = Pick<RunEngine, 'stopRun' | 'decideApproval'>;

export interface RunsRoutesDeps {
  db: Db;
  engine: RunsEngine;
  /** Receives a failure while a log is followed (the answer has started: it cannot become a 500). Default: stderr. */
  reportError?: (error: unknown, context: string) => void;
  /** How often a followed log is read again (default 250 ms) and a quiet stream gets a comment (default 15 s). */
  follow?: { pollMs?: number; heartbeatMs?: number };
  /** limits.logs: bytes of a page, followers in total and per token. Default DEFAULT_LIMITS.logs. */
  limits?: Pick<Limits['logs'], 'pageBytes' | 'maxFollowers' | 'maxFollowersPerToken'>;
  /** The live feeds of followed runs; made here when not given (a test passes its own to count polls). */
  feeds?: LogFeeds;
}

export const DEFAULT_RUN_LIMIT = 50;
export const MAX_RUN_LIMIT = 500;
/** An approval's comment is stored as the task's output: keep it to a paragraph. */
const MAX_COMMENT = 2000;

/** Mounted under `/api/v1`. */
export function runsRoutes(deps: RunsRoutesDeps): Hono {
  const { db, engine } = deps;
  const routes = new Hono();
  const write = requireToken({ db, scope: 'runs:write' });
  const limits = deps.limits ?? DEFAULT_LIMITS.logs;
  const feeds = deps.feeds ?? createLogFeeds(db, { limits, ...(deps.follow?.pollMs === undefined ? {} : { pollMs: deps.follow.pollMs }) });
  const reportError = deps.reportError ?? ((error: unknown, context: string) => process.stderr.write(`eventops: ${context}: ${String(error)}\n`));

  routes.get('/runs', async (c) => {
    const q = (name: string) => c.req.query(name) || undefined;
    const filter: RunFilter = {
      pipeline: q('pipeline'),
      statuses: parseStatuses(q('status')),
      trigger: q('trigger'),
      source: q('source'),
      eventId: q('event'),
      parentRunId: q('parent'),
      since: parseTime('since', q('since')),
      until: parseTime('until', q('until')),
    };
    const cursorText = q('cursor');
    const cursor = cursorText === undefined ? undefined : decodeRunCursor(cursorText);
    if (cursorText !== undefined && !cursor) throw badRequest('cursor is not one this server gave out: pass the nextCursor of the previous page as it was');
    const limit = parseWhole('limit', q('limit'), DEFAULT_RUN_LIMIT, 1, MAX_RUN_LIMIT);
    return c.json(await listRuns(db, filter, { limit, ...(cursor ? { cursor } : {}) }));
  });

  routes.get('/runs/:id', async (c) => {
    const id = c.req.param('id');
    const run = await getRun(db, id);
    if (!run) throw noRun(id);
    return c.json(run);
  });

  routes.get('/runs/:id/logs', async (c) => {
    const id = c.req.param('id');
    const task = c.req.query('task') || undefined;
    const attemptText = c.req.query('attempt') || undefined;
    const attempt = attemptText === undefined ? undefined : parseWhole('attempt', attemptText, 1, 1, Number.MAX_SAFE_INTEGER);
    // A reconnecting EventSource says where it stopped in Last-Event-ID.
    const after = parseWhole('after', c.req.query('after') || c.req.header('last-event-id') || undefined, 0, 0, Number.MAX_SAFE_INTEGER);
    const line = parseWhole('line', c.req.query('line') || undefined, 0, 0, Number.MAX_SAFE_INTEGER);
    const follow = parseFlag('follow', c.req.query('follow'));
    const state = await runState(db, id);
    if (!state) throw noRun(id);
    // Tasks exist from the run's start: then a name not among them is a mistake, not "no lines yet".
    if (task !== undefined && state.tasks.size > 0 && !state.tasks.has(task)) {
      throw notFound(`run ${id} has no task ${JSON.stringify(task)}; its tasks are ${[...state.tasks.keys()].join(', ')}`);
    }
    if (follow) {
      const slot = feeds.admit(tokenName(c.get('apiToken')));
      if (!slot.ok) throw new ApiError(429, 'TooManyRequests', slot.message);
      try {
        return followRunLog(c, db, feeds, { runId: id, task, attempt, after, ...(deps.follow?.heartbeatMs === undefined ? {} : { heartbeatMs: deps.follow.heartbeatMs }), onClose: slot.release }, reportError);
      } catch (error) {
        slot.release();
        throw error;
      }
    }
    return streamLogPage(c, db, { runId: id, task, attempt, from: { chunk: after, line }, pageBytes: limits.pageBytes }, reportError);
  });

  routes.post('/runs/:id/cancel', write, async (c) => {
    const id = c.req.param('id');
    const state = await runState(db, id);
    if (!state) throw noRun(id);
    if (FINISHED_RUN_STATUSES.includes(state.status)) throw alreadyFinished(id, state.status, state.finishedAt);
    const run = await engineCall(() => engine.stopRun(id, 'cancelled', `cancelled by ${tokenName(c.get('apiToken'))}`));
    // Finished between the read above and the engine's lock: the engine leaves it as it was.
    if (FINISHED_RUN_STATUSES.includes(run.status) && run.stopRequested === null) throw alreadyFinished(id, run.status, run.finishedAt);
    const answer: CancelAnswer = { id: run.id, status: run.status, stopRequested: run.stopRequested };
    return c.json(answer, 202);
  });

  for (const decision of ['approve', 'reject'] as const) {
    routes.post(`/runs/:id/tasks/:task/${decision}`, write, async (c) => {
      const id = c.req.param('id');
      const task = c.req.param('task');
      const comment = parseComment(await c.req.text());
      const row = await engineCall(() => engine.decideApproval(id, task, decision, tokenName(c.get('apiToken')), comment));
      const answer: DecisionAnswer = { runId: id, task: toTaskItem(row, await runNeeds(db, id)) };
      return c.json(answer);
    });
  }

  return routes;
}

function noRun(id: string): ApiError {
  return notFound(`no run with id ${JSON.stringify(id)}`);
}

function alreadyFinished(id: string, status: string, finishedAt: Date | null): ApiError {
  return new ApiError(409, 'Conflict', `run ${id} has already ${status === 'succeeded' ? 'succeeded' : `ended as ${status}`}${finishedAt ? ` (at ${finishedAt.toISOString()})` : ''}: there is nothing to cancel`);
}

/** The engine refuses with a RunStateError (404: no such run or task; 409: not in a state that allows it). */
async function engineCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // Recognised by name and status, not instanceof: importing the class would load the whole
    // run engine (workers, runners) into the HTTP module.
    if (error instanceof Error && error.name === 'RunStateError' && 'status' in error && (error.status === 404 || error.status === 409)) {
      throw new ApiError(error.status, error.status === 404 ? 'NotFound' : 'Conflict', error.message);
    }
    throw error;
  }
}

/** Who asks, as recorded on the run: the token's name (routes that change something always have one). */
function tokenName(token: { name: string } | undefined): string {
  return token?.name ?? 'anonymous';
}

function parseStatuses(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const statuses = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = statuses.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0) throw badRequest(`unknown status ${unknown.map((s) => JSON.stringify(s)).join(', ')}: use one or more of ${RUN_STATUSES.join(', ')}, comma-separated`);
  return statuses.length > 0 ? statuses : undefined;
}

/** An ISO 8601 time (a date alone is midnight UTC); anything else is a 400. */
function parseTime(param: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw badRequest(`${param} must be an ISO 8601 time like 2025-05-01T10:00:00Z (got ${JSON.stringify(value)})`);
  return new Date(ms);
}

/** A whole number from `min` to `max`; `fallback` when absent. */
function parseWhole(param: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw badRequest(`${param} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`} (got ${JSON.stringify(value)})`);
  }
  return n;
}

function parseFlag(param: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw badRequest(`${param} must be 1 or 0 (got ${JSON.stringify(value)})`);
}

/** The optional body `{ "comment": "…" }` of an approve or reject. */
function parseComment(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('the body must be empty or JSON like {"comment": "looks good"}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body must be a JSON object like {"comment": "looks good"}');
  const { comment } = body as { comment?: unknown };
  if (comment === undefined || comment === null) return undefined;
  if (typeof comment !== 'string') throw badRequest('comment must be a string');
  if (comment.length > MAX_COMMENT) throw badRequest(`comment must be at most ${MAX_COMMENT} characters (got ${comment.length})`);
  return comment;
}
