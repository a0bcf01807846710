// The reads behind the runs routes: a page of runs (newest first, by the `runs_created` index),
// one run with its tasks (and each task's `needs`, for drawing the DAG) and child runs, a run's
// (or task's) state, and log chunks after a chunk id. Plain drizzle selects that run the same on
// PostgreSQL and PGlite.
import { and, asc, desc, eq, gt, gte, inArray, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { definitions, logChunks, revisions, runs, taskRuns, type Db, type LogChunkRow, type RunRow, type TaskRunRow } from '../../schemas/database/index.js';
import { encodeRunCursor, type RunCursor } from './run-cursor.js';
import type { ChildRunItem, LogLineItem, RunDetail, RunPage, RunSummary, TaskItem } from './run-types.js';

export interface RunFilter {
  pipeline?: string;
  /** Any of these. */
  statuses?: readonly string[];
  trigger?: string;
  source?: string;
  eventId?: string;
  parentRunId?: string;
  /** createdAt ≥ since and < until. */
  since?: Date;
  until?: Date;
}

const summaryColumns = {
  id: runs.id,
  source: runs.source,
  trigger: runs.trigger,
  pipeline: runs.pipeline,
  eventId: runs.eventId,
  status: runs.status,
  revisionId: runs.revisionId,
  parentRunId: runs.parentRunId,
  parentTask: runs.parentTask,
  error: runs.error,
  createdAt: runs.createdAt,
  startedAt: runs.startedAt,
  finishedAt: runs.finishedAt,
  // The cursor needs the microseconds that a Date drops; to_char does not depend on DateStyle.
  cursorAt: sql<string>`to_char(${runs.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
};

/** One page of runs matching `filter`, newest first, starting after `cursor`. */
export async function listRuns(db: Db, filter: RunFilter, page: { limit: number; cursor?: RunCursor }): Promise<RunPage> {
  const where: SQL[] = [];
  if (filter.pipeline !== undefined) where.push(eq(runs.pipeline, filter.pipeline));
  if (filter.statuses !== undefined) where.push(inArray(runs.status, [...filter.statuses]));
  if (filter.trigger !== undefined) where.push(eq(runs.trigger, filter.trigger));
  if (filter.source !== undefined) where.push(eq(runs.source, filter.source));
  if (filter.eventId !== undefined) where.push(eq(runs.eventId, filter.eventId));
  if (filter.parentRunId !== undefined) where.push(eq(runs.parentRunId, filter.parentRunId));
  if (filter.since !== undefined) where.push(gte(runs.createdAt, filter.since));
  if (filter.until !== undefined) where.push(lt(runs.createdAt, filter.until));
  if (page.cursor) where.push(sql`(${runs.createdAt}, ${runs.id}) < (${page.cursor.createdAt}::timestamptz, ${page.cursor.id})`);
  // One more than asked tells whether there is a next page.
  const rows = await db
    .select(summaryColumns)
    .from(runs)
    .where(and(...where))
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(page.limit + 1);
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    runs: shown.map(({ cursorAt: _cursorAt, ...row }) => toSummary(row)),
    ...(rows.length > page.limit && last ? { nextCursor: encodeRunCursor({ createdAt: last.cursorAt, id: last.id }) } : {}),
  };
}

/** One run with its tasks (in pipeline order) and child runs; undefined when there is none. */
export async function getRun(db: Db, id: string): Promise<RunDetail | undefined> {
  const [found] = await db.select({ run: runs, commit: revisions.commit }).from(runs).leftJoin(revisions, eq(revisions.id, runs.revisionId)).where(eq(runs.id, id));
  if (!found) return undefined;
  const { run, commit } = found;
  const [tasks, children, needs] = await Promise.all([
    db.select().from(taskRuns).where(eq(taskRuns.runId, id)).orderBy(asc(taskRuns.position), asc(taskRuns.name)),
    db
      .select({ id: runs.id, parentTask: runs.parentTask, pipeline: runs.pipeline, status: runs.status })
      .from(runs)
      .where(eq(runs.parentRunId, id))
      .orderBy(asc(runs.createdAt), asc(runs.id)),
    pipelineNeeds(db, run),
  ]);
  return {
    ...toSummary(run),
    revision: commit,
    inputs: run.inputs,
    contexts: run.contexts,
    outputs: run.outputs,
    concurrencyGroup: run.concurrencyGroup,
    stopRequested: run.stopRequested,
    deadlineAt: iso(run.deadlineAt),
    tasks: tasks.map((t) => toTaskItem(t, needs)),
    children: children satisfies ChildRunItem[],
  };
}

export interface RunState {
  status: string;
  finishedAt: Date | null;
  stopRequested: string | null;
  /** The names and statuses of its tasks in pipeline order (none before the run started). */
  tasks: Map<string, string>;
}

/** What a run is doing now, for the cancel route and for following its log; undefined when there is no such run. */
export async function runState(db: Db, id: string): Promise<RunState | undefined> {
  const [run] = await db.select({ status: runs.status, finishedAt: runs.finishedAt, stopRequested: runs.stopRequested }).from(runs).where(eq(runs.id, id));
  if (!run) return undefined;
  const tasks = await db.select({ name: taskRuns.name, status: taskRuns.status }).from(taskRuns).where(eq(taskRuns.runId, id)).orderBy(asc(taskRuns.position));
  return { ...run, tasks: new Map(tasks.map((t) => [t.name, t.status])) };
}

export interface ChunkQuery {
  runId: string;
  task?: string;
  attempt?: number;
  /** Chunks with a greater id only. */
  after: number;
  limit: number;
}

/** Log chunks of a run in id order (the order they were written in). */
export async function readLogChunks(db: Db, query: ChunkQuery): Promise<LogChunkRow[]> {
  const where: SQL[] = [eq(logChunks.runId, query.runId), gt(logChunks.id, query.after)];
  if (query.task !== undefined) where.push(eq(logChunks.task, query.task));
  if (query.attempt !== undefined) where.push(eq(logChunks.attempt, query.attempt));
  return db
    .select()
    .from(logChunks)
    .where(and(...where))
    .orderBy(asc(logChunks.id))
    .limit(query.limit);
}

/**
 * Where a page of log lines starts: after chunk `chunk` when `line` is 0, else at line `line`
 * (0-based) of chunk `chunk`, its first `line` lines having been read.
 */
export interface LineCursor {
  chunk: number;
  line: number;
}

export interface LineBatchQuery {
  runId: string;
  task?: string;
  attempt?: number;
  from: LineCursor;
  /** Lines are returned while the bytes before each (text bytes plus `lineOverhead` a line) stay under this. */
  budget: number;
  lineOverhead: number;
}

export interface StoredLine {
  chunk: number;
  /** 1-based position in its chunk, and the chunk's number of lines. */
  n: number;
  count: number;
  item: LogLineItem;
  bytes: number;
}

/** Chunks looked at by one batch query, and lines it returns at most. */
const BATCH_CHUNKS = 8;
const BATCH_LINES = 2000;

/**
 * The next lines of a run's log from `from`, in order, taken from a few chunks at a time and cut
 * by PostgreSQL at `budget` bytes, so neither a huge chunk nor a huge log is ever held whole here
 * (at most `budget` bytes plus one line). Empty when there are no more lines.
 */
export async function readLogLines(db: Db, query: LineBatchQuery): Promise<StoredLine[]> {
  const { chunk, line } = query.from;
  const filters = [sql`run_id = ${query.runId}`];
  if (query.task !== undefined) filters.push(sql`task = ${query.task}`);
  if (query.attempt !== undefined) filters.push(sql`attempt = ${query.attempt}`);
  filters.push(line > 0 ? sql`id >= ${chunk}` : sql`id > ${chunk}`);
  const result = await db.execute(sql`
    select id, task, attempt, n, count, line, bytes from (
      select c.id, c.task, c.attempt, l.n::int as n, jsonb_array_length(c.lines)::int as count, l.line,
             octet_length(l.line->>'text') + ${query.lineOverhead}::int as bytes,
             sum(octet_length(l.line->>'text') + ${query.lineOverhead}::int) over (order by c.id, l.n) as upto
      from log_chunks c
      cross join lateral jsonb_array_elements(c.lines) with ordinality as l(line, n)
      where c.id in (select id from log_chunks where ${sql.join(filters, sql` and `)} order by id limit ${BATCH_CHUNKS})
        and (c.id <> ${chunk} or l.n > ${line})
    ) s
    where upto - bytes < ${query.budget}
    order by id, n
    limit ${BATCH_LINES}`);
  return rowsOf<{ id: string | number; task: string; attempt: number; n: number; count: number; line: { at: number; stream: string; text: string }; bytes: number }>(result).map((row) => ({
    chunk: Number(row.id),
    n: row.n,
    count: row.count,
    bytes: row.bytes,
    item: { task: row.task, attempt: row.attempt, at: new Date(row.line.at).toISOString(), stream: row.line.stream, text: row.line.text },
  }));
}

/** The largest chunk id of a run's log written at least `ms` ago (0 when none): where a live feed starts reading. */
export async function settledChunkId(db: Db, runId: string, ms: number): Promise<number> {
  const result = await db.execute(sql`select coalesce(max(id), 0) as id from log_chunks where run_id = ${runId} and created_at < now() - make_interval(secs => ${ms / 1000}::float8)`);
  return Number(rowsOf<{ id: string | number }>(result)[0]?.id ?? 0);
}

/** The rows of a `db.execute` (node-postgres answers `{ rows }`). */
function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** A chunk's lines as the API shows them: each with its task and attempt, times in ISO 8601. */
export function chunkLines(chunk: LogChunkRow): LogLineItem[] {
  return chunk.lines.map((line) => ({ task: chunk.task, attempt: chunk.attempt, at: new Date(line.at).toISOString(), stream: line.stream, text: line.text }));
}

/**
 * Each task's `needs`, by task name, from the run's pipeline as it was at the run's revision
 * (the run's own definitions, whatever came since). Empty when that definition cannot be found.
 */
export async function pipelineNeeds(db: Db, run: Pick<RunRow, 'source' | 'pipeline' | 'revisionId'>): Promise<Map<string, string[]>> {
  const [found] = await db
    .select({ spec: definitions.spec })
    .from(definitions)
    .where(
      and(
        eq(definitions.source, run.source),
        eq(definitions.kind, 'Pipeline'),
        eq(definitions.name, run.pipeline),
        lte(definitions.addedRevisionId, run.revisionId),
        or(isNull(definitions.removedRevisionId), gt(definitions.removedRevisionId, run.revisionId)),
      ),
    )
    .limit(1);
  const needs = new Map<string, string[]>();
  const spec = (found?.spec ?? {}) as { tasks?: unknown; finally?: unknown };
  for (const list of [spec.tasks, spec.finally]) {
    if (!Array.isArray(list)) continue;
    for (const task of list as { name?: unknown; needs?: unknown }[]) {
      if (typeof task?.name !== 'string') continue;
      needs.set(task.name, Array.isArray(task.needs) ? task.needs.filter((n): n is string => typeof n === 'string') : []);
    }
  }
  return needs;
}

/** pipelineNeeds of the run with this id (empty for an unknown run). */
export async function runNeeds(db: Db, runId: string): Promise<Map<string, string[]>> {
  const [run] = await db.select({ source: runs.source, pipeline: runs.pipeline, revisionId: runs.revisionId }).from(runs).where(eq(runs.id, runId));
  return run ? pipelineNeeds(db, run) : new Map();
}

/** `needs`: from pipelineNeeds; a task it does not name needs nothing. */
export function toTaskItem(t: TaskRunRow, needs: ReadonlyMap<string, readonly string[]>): TaskItem {
  return {
    name: t.name,
    phase: t.phase,
    needs: [...(needs.get(t.name) ?? [])],
    type: t.type,
    status: t.status,
    attempt: t.attempt,
    actuator: t.actuator,
    exitCode: t.exitCode,
    outputs: t.outputs,
    error: t.error,
    skipReason: t.skipReason,
    childRunId: t.childRunId,
    decision: t.decision,
    decidedBy: t.decidedBy,
    attempts: t.attempts,
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
    durationMs: duration(t.startedAt, t.finishedAt),
  };
}

function toSummary(r: Pick<RunRow, keyof Omit<RunSummary, 'durationMs'>>): RunSummary {
  return {
    id: r.id,
    source: r.source,
    trigger: r.trigger,
    pipeline: r.pipeline,
    eventId: r.eventId,
    status: r.status,
    revisionId: r.revisionId,
    parentRunId: r.parentRunId,
    parentTask: r.parentTask,
    error: r.error,
    createdAt: r.createdAt.toISOString(),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    durationMs: duration(r.startedAt, r.finishedAt),
  };
}

function iso(date: Date | null): string | null {
  return date?.toISOString() ?? null;
}

function duration(startedAt: Date | null, finishedAt: Date | null): number | null {
  return startedAt && finishedAt ? finishedAt.getTime() - startedAt.getTime() : null;
}
