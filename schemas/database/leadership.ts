// Leader election on PostgreSQL: of the processes campaigning for one name, the one holding a
// session advisory lock on its own connection leads. The others try again every `retryMs`; the
// leader checks its connection every `checkMs` and steps down when it is lost (the server drops
// the lock with the session, so another process takes over within about `retryMs`). Used by the
// reconciler role: only the leader polls sources and fires schedules. Leading is an economy, not
// the safety: reconciles hold their own per-source lock and schedule ticks are idempotent, so two
// leaders for a moment (a partition the server has not noticed yet) do no harm.
import pg from 'pg';
import { lockKey } from './lock-key.js';

export interface CampaignOptions {
  /** Called once elected; awaited before the leader's first check. */
  onElected(): void | Promise<void>;
  /** Called when leadership ends: the connection was lost, or `resign()`. */
  onDeposed(): void | Promise<void>;
  /** Something went wrong talking to the database (it is retried). */
  onError?(error: unknown): void;
  /** Between attempts to take the lock; default 5 s. */
  retryMs?: number;
  /** Between the leader's connection checks; default 5 s. */
  checkMs?: number;
}

export interface Campaign {
  /** True while this process leads. */
  readonly leading: boolean;
  /** Stops campaigning; a leader steps down (`onDeposed`) and releases the lock. Idempotent. */
  resign(): Promise<void>;
}

/** Campaigns on a connection of its own to `url` (not a pooled one: the lock lives with the session). */
export function campaignOnPostgres(url: string, name: string, options: CampaignOptions): Campaign {
  const retryMs = options.retryMs ?? 5_000;
  const checkMs = options.checkMs ?? 5_000;
  const stop = new AbortController();
  let leading = false;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done, { once: true });
    });
  const loop = (async () => {
    while (!stop.signal.aborted) {
      // A check that gets no answer is a lost connection too: the server may be unreachable.
      const client = new pg.Client({ connectionString: url, keepAlive: true, query_timeout: Math.max(checkMs, 2_000), connectionTimeoutMillis: Math.max(checkMs, 2_000) });
      client.on('error', () => undefined);
      try {
        await client.connect();
        while (!stop.signal.aborted) {
          const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [lockKey(name)]);
          if (rows[0]?.ok) break;
          await pause(retryMs);
        }
        if (stop.signal.aborted) break;
        leading = true;
        await options.onElected();
        while (!stop.signal.aborted) {
          await pause(checkMs);
          if (!stop.signal.aborted) await client.query('select 1');
        }
      } catch (error) {
        if (!stop.signal.aborted) options.onError?.(error);
      } finally {
        if (leading) {
          leading = false;
          try {
            await options.onDeposed();
          } catch (error) {
            options.onError?.(error);
          }
        }
        // Ending the session releases the lock.
        await client.end().catch(() => undefined);
      }
      if (!stop.signal.aborted) await pause(retryMs);
    }
  })();
  let resigned: Promise<void> | undefined;
  return {
    get leading() {
      return leading;
    },
    resign: () =>
      (resigned ??= (async () => {
        stop.abort();
        await loop;
      })()),
  };
}

/** One process owns an embedded database: it leads at once, until it resigns. */
export function campaignInProcess(options: CampaignOptions): Campaign {
  let leading = true;
  const elected = Promise.resolve()
    .then(() => options.onElected())
    .catch((error: unknown) => options.onError?.(error));
  let resigned: Promise<void> | undefined;
  return {
    get leading() {
      return leading;
    },
    resign: () =>
      (resigned ??= (async () => {
        await elected;
        leading = false;
        await options.onDeposed();
      })()),
  };
}
