// Following a run's log as server-sent events: every line as an event `line`, read from the
// database every `pollMs`, then one event `end` once the run (or the one task followed) has
// finished and every chunk was sent; a comment every `heartbeatMs` keeps proxies from closing
// a quiet stream. It stops when the client goes away.
//
// Chunk ids come from a sequence and are taken before the insert commits, so with two tasks
// writing at once a chunk with a smaller id can become visible just after a larger one was
// read. Reading only "after the last id sent" would lose it; the reader instead keeps reading
// from the last id sent at least LATE_COMMIT_MS ago and skips the ids it already sent.
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Db } from '../../schemas/database/index.js';
import { chunkLines, readLogChunks, runState } from './run-queries.js';
import { FINISHED_RUN_STATUSES, FINISHED_TASK_STATUSES, type LogEnd } from './run-types.js';

export interface FollowOptions {
  runId: string;
  task?: string;
  attempt?: number;
  /** Send chunks with a greater id only. */
  after: number;
  /** Default 250 ms. */
  pollMs?: number;
  /** Default 15 s. */
  heartbeatMs?: number;
}

/** How long an insert may take to commit after its id was drawn, at most. */
const LATE_COMMIT_MS = 2000;
/** Chunks read per query; a full batch is followed by the next one at once. */
const BATCH = 200;

/** The streaming answer; `reportError` receives a failure, the client only an `error` event saying so. */
export function followRunLog(c: Context, db: Db, options: FollowOptions, reportError: (error: unknown, context: string) => void): Response {
  const pollMs = options.pollMs ?? 250;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  return streamSSE(c, async (stream) => {
    let gone = false;
    const goneSignal = new Promise<void>((resolve) =>
      stream.onAbort(() => {
        gone = true;
        resolve();
      }),
    );
    const write = async (send: () => Promise<unknown>) => {
      await send();
      lastWrite = Date.now();
    };
    let lastWrite = Date.now();
    let floor = options.after;
    const sentAt = new Map<number, number>();
    try {
      while (!gone) {
        // The state first: once it says finished, every chunk is committed (a worker writes its
        // log before its result), so the read below sees all that will ever be there.
        const state = await runState(db, options.runId);
        const limit = BATCH + sentAt.size;
        const chunks = await readLogChunks(db, { runId: options.runId, task: options.task, attempt: options.attempt, after: floor, limit });
        const now = Date.now();
        let sent = 0;
        for (const chunk of chunks) {
          if (sentAt.has(chunk.id)) continue;
          const lines = chunkLines(chunk);
          for (const [i, line] of lines.entries()) {
            // The id on a chunk's last line only: a reconnecting EventSource resumes after whole chunks.
            await write(() => stream.writeSSE({ event: 'line', data: JSON.stringify(line), ...(i === lines.length - 1 ? { id: String(chunk.id) } : {}) }));
          }
          sentAt.set(chunk.id, now);
          sent++;
        }
        for (const [id, at] of sentAt) if (now - at >= LATE_COMMIT_MS) floor = Math.max(floor, id);
        for (const id of sentAt.keys()) if (id <= floor) sentAt.delete(id);
        if (gone) return;
        const end = ended(state, options.task);
        if (end && sent === 0) {
          await stream.writeSSE({ event: 'end', data: JSON.stringify(end) });
          return;
        }
        if (chunks.length === limit) continue;
        if (Date.now() - lastWrite >= heartbeatMs) await write(() => stream.write(': keep-alive\n\n'));
        await Promise.race([new Promise((resolve) => setTimeout(resolve, pollMs)), goneSignal]);
      }
    } catch (error) {
      reportError(error, `following the log of run ${options.runId}`);
      await sendError(stream);
    }
  });
}

/** What the `end` event says, or undefined while there is more to come. */
function ended(state: Awaited<ReturnType<typeof runState>>, task: string | undefined): LogEnd | undefined {
  // A run deleted while followed has nothing more to say.
  if (!state) return { status: 'deleted' };
  const taskStatus = task === undefined ? undefined : state.tasks.get(task);
  const runOver = FINISHED_RUN_STATUSES.includes(state.status);
  if (task !== undefined) {
    if (taskStatus !== undefined && FINISHED_TASK_STATUSES.includes(taskStatus)) return { status: state.status, task, taskStatus };
    // The run ended without the task ever running (cancelled before it started).
    return runOver ? { status: state.status, task, taskStatus: taskStatus ?? 'cancelled' } : undefined;
  }
  return runOver ? { status: state.status } : undefined;
}

async function sendError(stream: SSEStreamingApi): Promise<void> {
  await stream.writeSSE({ event: 'error', data: JSON.stringify({ code: 'Internal', message: 'internal error; the server log has the details' }) });
}
