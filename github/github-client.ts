// The one way eventops talks to GitHub's API: an Octokit per repository's installation (a GitHub
// App: installation tokens made by @octokit/auth-app and cached by it until they expire) or one
// for a token, on a configurable API URL (GitHub Enterprise). Every request passes through a hook
// that waits and sends again when GitHub answers with a rate limit (`retry-after`, or the primary
// limit's reset), as long as the wait is short; a longer one becomes a GithubRateLimitedError for
// the caller (the reporter queue) to retry later. The last `x-ratelimit-remaining` seen is kept.
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import { GithubRateLimitedError, rateLimitWait } from './rate-limit.js';

export type GithubAuth = { token: string } | { appId: number; privateKey: string };

export interface GithubClientOptions {
  auth: GithubAuth;
  /** The REST API's base URL; default GitHub's own (for GitHub Enterprise: `https://HOST/api/v3`). */
  apiUrl?: string;
  /** The longest wait for a rate limit inside one call; longer ones throw. Default 60 s. */
  maxWaitMs?: number;
  /** How many times one request is sent again after rate limits; default 3. */
  maxRetries?: number;
  /** How long a repository's installation id is remembered; default 10 min. */
  installationTtlMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Told of every request sent (each retry too): its method and GitHub's status, `error` when no answer came (for metrics). */
  onRequest?: (method: string, status: number | 'error') => void;
}

export interface GithubClient {
  /**
   * The Octokit that acts on `owner/repo`: the App's installation on it (`installationId` from a
   * webhook saves a look-up), or the token's.
   */
  forRepo(owner: string, repo: string, installationId?: number): Promise<Octokit>;
  /** The last rate-limit headers seen (for metrics); undefined before the first answer. */
  rateLimit(): { remaining: number; limit: number; resetAt: number } | undefined;
}

/** Builds the client; nothing is sent until the first call. */
export function createGithubClient(options: GithubClientOptions): GithubClient {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const maxRetries = options.maxRetries ?? 3;
  const installationTtlMs = options.installationTtlMs ?? 10 * 60_000;
  let limits: { remaining: number; limit: number; resetAt: number } | undefined;

  const base = { userAgent: 'eventops', ...(options.apiUrl === undefined ? {} : { baseUrl: options.apiUrl.replace(/\/+$/, '') }), log: quietLog };
  const withLimits = (octokit: Octokit): Octokit => {
    octokit.hook.wrap('request', async (request, endpoint) => {
      const route = `${endpoint.method} ${endpoint.url}`;
      for (let retry = 0; ; retry++) {
        try {
          const response = await request(endpoint);
          options.onRequest?.(endpoint.method, response.status);
          note(response.headers);
          return response;
        } catch (error) {
          const answer = answerOf(error);
          options.onRequest?.(endpoint.method, answer?.status ?? 'error');
          if (answer) note(answer.headers);
          const waitMs = answer ? rateLimitWait(answer, now()) : undefined;
          if (waitMs === undefined) throw error;
          if (waitMs > maxWaitMs || retry >= maxRetries) throw new GithubRateLimitedError(waitMs, route, { cause: error });
          await sleep(waitMs);
        }
      }
    });
    return octokit;
  };
  const note = (headers: Readonly<Record<string, string | number | undefined>>) => {
    const remaining = Number(headers['x-ratelimit-remaining']);
    if (!Number.isFinite(remaining)) return;
    limits = { remaining, limit: Number(headers['x-ratelimit-limit']) || 0, resetAt: (Number(headers['x-ratelimit-reset']) || 0) * 1000 };
  };

  if ('token' in options.auth) {
    const octokit = withLimits(new Octokit({ ...base, auth: options.auth.token }));
    return { forRepo: async () => octokit, rateLimit: () => limits };
  }
  const { appId, privateKey } = options.auth;
  const app = withLimits(new Octokit({ ...base, authStrategy: createAppAuth, auth: { appId, privateKey } }));
  // One Octokit per installation: its auth caches the installation token until it expires.
  const installations = new Map<number, Octokit>();
  const repoInstallation = new Map<string, { id: number; until: number }>();
  return {
    async forRepo(owner, repo, installationId) {
      let id = installationId;
      if (id === undefined) {
        const key = `${owner}/${repo}`.toLowerCase();
        const known = repoInstallation.get(key);
        if (known && known.until > now()) id = known.id;
        else {
          const { data } = await app.rest.apps.getRepoInstallation({ owner, repo });
          id = data.id;
          repoInstallation.set(key, { id, until: now() + installationTtlMs });
        }
      }
      let octokit = installations.get(id);
      if (!octokit) {
        octokit = withLimits(new Octokit({ ...base, authStrategy: createAppAuth, auth: { appId, privateKey, installationId: id } }));
        installations.set(id, octokit);
      }
      return octokit;
    },
    rateLimit: () => limits,
  };
}

/** The status, headers and message of a failed request (Octokit's RequestError), else undefined. */
function answerOf(error: unknown): { status: number; headers: Record<string, string | number | undefined>; message?: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; response?: { headers?: Record<string, string | number | undefined>; data?: unknown } };
  if (typeof e.status !== 'number') return undefined;
  const data = e.response?.data as { message?: unknown } | undefined;
  return { status: e.status, headers: e.response?.headers ?? {}, ...(typeof data?.message === 'string' ? { message: data.message } : {}) };
}

// Octokit logs deprecations and request failures to the console by default; eventops reports
// failures itself, where their context is known.
const quietLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
