// One live feed per followed run, shared by all its followers: a single poller reads the run's
// state and its new log chunks every `pollMs` and hands each read to every follower, so 400
// followers of a run cost the database what one does. The feed starts with the first follower
// and stops with the last. It also counts followers, in total and per token, and refuses one
// beyond limits.logs.maxFollowers / maxFollowersPerToken (the route answers 429).
//
// Chunk ids come from a sequence and are taken before the insert commits, so with two tasks
// writing at once a chunk with a smaller id can become visible just after a larger one was
// read. Reading only "after the last id read" would lose it; the feed instead keeps reading
// from the last id read at least LATE_COMMIT_MS ago and skips the ids it already delivered.
import type { Db, LogChunkRow } from '../../schemas/database/index.js';
import { readLogChunks, runState, settledChunkId, type RunState } from './run-queries.js';

/** How long an insert may take to commit after its id was drawn, at most. */
export const LATE_COMMIT_MS = 2000;
/** Chunks read per poll (a chunk holds up to 256 KiB); a full batch is followed by the next one at once. */
const BATCH = 50;

/** One read of the feed: the run's state (read first), then the chunks not delivered before. */
export interface FeedTick {
  state: RunState | undefined;
  chunks: LogChunkRow[];
  /** More chunks were already there: the next tick follows at once. */
  full: boolean;
  /** Chunk ids up to this one will never be delivered again. */
  floor: number;
}

export type FeedListener = (tick: FeedTick | { error: unknown }) => void;

export interface FollowerLimits {
  maxFollowers: number;
  maxFollowersPerToken: number;
}

export interface LogFeeds {
  /** Takes a follower slot for `token` (a token's name); a refusal says why, for the 429. */
  admit(token: string): { ok: true; release(): void } | { ok: false; message: string };
  /** Starts delivering the run's ticks to `listener` (the first one soon); `leave` stops it. */
  join(runId: string, listener: FeedListener): { leave(): void };
  /** Feeds running, followers admitted, and database polls made so far (each reads the state and the chunks). */
  stats(): { feeds: number; followers: number; polls: number };
}

export interface LogFeedsOptions {
  /** Default 250 ms. */
  pollMs?: number;
  limits: FollowerLimits;
}

interface Feed {
  listeners: Set<FeedListener>;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

export function createLogFeeds(db: Db, options: LogFeedsOptions): LogFeeds {
  const pollMs = options.pollMs ?? 250;
  const feeds = new Map<string, Feed>();
  const perToken = new Map<string, number>();
  let followers = 0;
  let polls = 0;

  const start = (runId: string, feed: Feed) => {
    let floor: number | undefined;
    const deliveredAt = new Map<number, number>();
    const tick = async () => {
      feed.timer = undefined;
      if (feed.stopped) return;
      let full = false;
      try {
        polls++;
        floor ??= await settledChunkId(db, runId, LATE_COMMIT_MS);
        // The state first: once it says finished, every chunk is committed (a worker writes its
        // log before its result), so the read below sees all that will ever be there.
        const state = await runState(db, runId);
        const limit = BATCH + deliveredAt.size;
        const read = await readLogChunks(db, { runId, after: floor, limit });
        const now = Date.now();
        const chunks = read.filter((chunk) => !deliveredAt.has(chunk.id));
        for (const chunk of chunks) deliveredAt.set(chunk.id, now);
        for (const [id, at] of deliveredAt) if (now - at >= LATE_COMMIT_MS) floor = Math.max(floor, id);
        for (const id of deliveredAt.keys()) if (id <= floor) deliveredAt.delete(id);
        full = read.length === limit;
        const delivered: FeedTick = { state, chunks, full, floor };
        for (const listener of feed.listeners) listener(delivered);
      } catch (error) {
        for (const listener of feed.listeners) listener({ error });
      }
      if (!feed.stopped) feed.timer = setTimeout(() => void tick(), full ? 0 : pollMs);
    };
    feed.timer = setTimeout(() => void tick(), 0);
  };

  return {
    admit(token) {
      if (followers >= options.limits.maxFollowers) {
        return { ok: false, message: `${followers} logs are being followed, the most this server allows (limits.logs.maxFollowers): try again later, or read the log without follow` };
      }
      const mine = perToken.get(token) ?? 0;
      if (mine >= options.limits.maxFollowersPerToken) {
        return { ok: false, message: `the token ${JSON.stringify(token)} follows ${mine} logs already, the most one token may (limits.logs.maxFollowersPerToken): close one first` };
      }
      followers++;
      perToken.set(token, mine + 1);
      let released = false;
      return {
        ok: true,
        release() {
          if (released) return;
          released = true;
          followers--;
          const left = (perToken.get(token) ?? 1) - 1;
          if (left > 0) perToken.set(token, left);
          else perToken.delete(token);
        },
      };
    },
    join(runId, listener) {
      let feed = feeds.get(runId);
      if (!feed) {
        feed = { listeners: new Set(), timer: undefined, stopped: false };
        feeds.set(runId, feed);
        start(runId, feed);
      }
      const joined = feed;
      joined.listeners.add(listener);
      return {
        leave() {
          joined.listeners.delete(listener);
          if (joined.listeners.size > 0 || joined.stopped) return;
          joined.stopped = true;
          clearTimeout(joined.timer);
          if (feeds.get(runId) === joined) feeds.delete(runId);
        },
      };
    },
    stats: () => ({ feeds: feeds.size, followers, polls }),
  };
}
