// Following a run's log as server-sent events: every line as an event `line`, then one event
// `end` once the run (or the one task followed) has finished and every chunk was sent; a comment
// every `heartbeatMs` keeps proxies from closing a quiet stream. It stops when the client goes
// away. The lines written before the follower came are read once for it (in batches); the new
// ones come from the run's shared feed (run-log-feed.ts), so followers do not poll on their own.
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Db, LogChunkRow } from '../../schemas/database/index.js';
import type { FeedTick, LogFeeds } from './run-log-feed.js';
import { chunkLines, readLogChunks, type RunState } from './run-queries.js';
import { FINISHED_RUN_STATUSES, FINISHED_TASK_STATUSES, type LogEnd } from './run-types.js';

export interface FollowOptions {
  runId: string;
  task?: string;
  attempt?: number;
  /** Send chunks with a greater id only. */
  after: number;
  /** Default 15 s. */
  heartbeatMs?: number;
  /** Called once the stream ended, however it ended (frees the follower's slot). */
  onClose(): void;
}

/** Chunks read per query while catching up. */
const CATCH_UP_BATCH = 50;
/** Ticks a follower may have waiting (it reads slower than the log grows); beyond, it is told to reconnect. */
const MAX_QUEUED_TICKS = 100;

/** The streaming answer; `reportError` receives a failure, the client only an `error` event saying so. */
export function followRunLog(c: Context, db: Db, feeds: LogFeeds, options: FollowOptions, reportError: (error: unknown, context: string) => void): Response {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  return streamSSE(c, async (stream) => {
    let gone = false;
    let wake: (() => void) | undefined;
    const queue: (FeedTick | { error: unknown })[] = [];
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    stream.onAbort(() => {
      gone = true;
      notify();
    });
    const joined = feeds.join(options.runId, (tick) => {
      queue.push(tick);
      notify();
    });
    let lastWrite = Date.now();
    const sent = new Set<number>();
    const mine = (chunk: LogChunkRow) => (options.task === undefined || chunk.task === options.task) && (options.attempt === undefined || chunk.attempt === options.attempt);
    const send = async (chunk: LogChunkRow) => {
      if (sent.has(chunk.id) || chunk.id <= options.after || !mine(chunk)) return;
      sent.add(chunk.id);
      const lines = chunkLines(chunk);
      for (const [i, line] of lines.entries()) {
        // The id on a chunk's last line only: a reconnecting EventSource resumes after whole chunks.
        await stream.writeSSE({ event: 'line', data: JSON.stringify(line), ...(i === lines.length - 1 ? { id: String(chunk.id) } : {}) });
      }
      lastWrite = Date.now();
    };
    try {
      // What was written before: read once, for this follower; the feed's ticks wait meanwhile.
      for (let after = options.after; !gone; ) {
        const chunks = await readLogChunks(db, { runId: options.runId, task: options.task, attempt: options.attempt, after, limit: CATCH_UP_BATCH });
        for (const chunk of chunks) await send(chunk);
        if (chunks.length < CATCH_UP_BATCH) break;
        after = chunks[chunks.length - 1]!.id;
      }
      while (!gone) {
        if (queue.length > MAX_QUEUED_TICKS) {
          await stream.writeSSE({ event: 'error', data: JSON.stringify({ code: 'TooSlow', message: 'this stream fell behind the log; reconnect (with Last-Event-ID) to go on from the last line received' }) });
          return;
        }
        const tick = queue.shift();
        if (!tick) {
          if (Date.now() - lastWrite >= heartbeatMs) {
            await stream.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, heartbeatMs);
          });
          clearTimeout(timer);
          continue;
        }
        if ('error' in tick) throw tick.error;
        for (const chunk of tick.chunks) await send(chunk);
        for (const id of sent) if (id <= tick.floor) sent.delete(id);
        const end = ended(tick.state, options.task);
        if (end && tick.chunks.length === 0 && !tick.full) {
          await stream.writeSSE({ event: 'end', data: JSON.stringify(end) });
          return;
        }
      }
    } catch (error) {
      reportError(error, `following the log of run ${options.runId}`);
      await sendError(stream);
    } finally {
      joined.leave();
      options.onClose();
    }
  });
}

/** What the `end` event says, or undefined while there is more to come. */
function ended(state: RunState | undefined, task: string | undefined): LogEnd | undefined {
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
