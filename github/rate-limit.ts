// When GitHub says "not now": a secondary rate limit (403 or 429 with `retry-after`, or a 403
// whose message names the secondary rate limit) or the primary one (`x-ratelimit-remaining: 0`,
// wait until `x-ratelimit-reset`). Pure: the caller gives the answer's status, headers, message
// and the clock, and gets back how long to wait, or undefined when the answer is not a limit.

export interface LimitedAnswer {
  status: number;
  headers: Readonly<Record<string, string | number | undefined>>;
  /** GitHub's `message`, when the body had one. */
  message?: string;
}

/** GitHub's advice when a secondary limit gives no `retry-after`: wait at least a minute. */
export const SECONDARY_DEFAULT_WAIT_MS = 60_000;

/** How long GitHub asks to wait before the request is sent again; undefined when it is not a rate limit. */
export function rateLimitWait(answer: LimitedAnswer, nowMs: number): number | undefined {
  if (answer.status !== 403 && answer.status !== 429) return undefined;
  const header = (name: string) => {
    const value = answer.headers[name];
    return value === undefined ? undefined : String(value);
  };
  const retryAfter = header('retry-after');
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    // An HTTP date is allowed too.
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  if (header('x-ratelimit-remaining') === '0') {
    const reset = Number(header('x-ratelimit-reset'));
    if (Number.isFinite(reset)) return Math.max(1_000, reset * 1000 - nowMs + 1_000);
  }
  if (answer.status === 429 || /secondary rate limit/i.test(answer.message ?? '')) return SECONDARY_DEFAULT_WAIT_MS;
  return undefined;
}

/** GitHub asked to wait longer than a caller may block: the work should be tried again after `retryAfterMs` (a *waiting* error). */
export class GithubRateLimitedError extends Error {
  readonly kind = 'waiting';
  readonly reason = 'RateLimited';
  constructor(
    readonly retryAfterMs: number,
    readonly route: string,
    options?: { cause?: unknown },
  ) {
    super(`GitHub rate-limited ${route}; try again in ${Math.ceil(retryAfterMs / 1000)}s`, options);
    this.name = 'GithubRateLimitedError';
  }
}
