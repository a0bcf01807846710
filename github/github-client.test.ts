// The GitHub client against the fake GitHub API (a real HTTP server): App installation tokens
// made once and reused, a token client, a GitHub Enterprise path, rate limits waited out or
// handed back to the caller.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from '../test/helpers/fake-github.js';
import { createGithubClient } from './github-client.js';
import { GithubRateLimitedError, rateLimitWait } from './rate-limit.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

describe('createGithubClient', () => {
  let github: FakeGithub | undefined;
  afterEach(async () => {
    await github?.close();
    github = undefined;
  });

  it('as an App: looks up the installation once, makes one installation token and reuses it', async () => {
    github = await startFakeGithub({ app: { id: 77, publicKey }, installations: { 'acme/ops': 31 } });
    const client = createGithubClient({ auth: { appId: 77, privateKey }, apiUrl: github.url });
    for (let i = 0; i < 3; i++) {
      const octokit = await client.forRepo('acme', 'ops');
      await octokit.rest.checks.create({ owner: 'acme', repo: 'ops', name: `eventops/p${i}`, head_sha: 'a'.repeat(40) });
    }
    expect(github.checkRuns.map((r) => r.name)).toEqual(['eventops/p0', 'eventops/p1', 'eventops/p2']);
    expect(github.tokensIssued).toBe(1);
    expect(github.requests.filter((r) => r.path === '/repos/acme/ops/installation')).toHaveLength(1);
    expect(github.requests.filter((r) => r.path.startsWith('/app/installations/'))[0]!.path).toBe('/app/installations/31/access_tokens');
    expect(client.rateLimit()).toMatchObject({ remaining: 4990, limit: 5000 });
  });

  it('as an App with a wrong key: the token request is refused', async () => {
    github = await startFakeGithub({ app: { id: 77, publicKey } });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const client = createGithubClient({ auth: { appId: 77, privateKey: other.privateKey }, apiUrl: github.url });
    await expect(client.forRepo('acme', 'ops')).rejects.toMatchObject({ status: 401 });
  });

  it('with a token, under a GitHub Enterprise path', async () => {
    github = await startFakeGithub({ token: 'ghp_test_token', prefix: '/api/v3' });
    const client = createGithubClient({ auth: { token: 'ghp_test_token' }, apiUrl: github.url });
    expect(github.url).toMatch(/\/api\/v3$/);
    const octokit = await client.forRepo('acme', 'ops');
    const { data } = await octokit.rest.issues.createComment({ owner: 'acme', repo: 'ops', issue_number: 5, body: 'hello' });
    expect(data.body).toBe('hello');
    expect(github.requests.at(-1)).toMatchObject({ method: 'POST', path: '/repos/acme/ops/issues/5/comments', authorization: 'token ghp_test_token' });
  });

  it('waits out a secondary rate limit (403 with retry-after) and sends the request again', async () => {
    github = await startFakeGithub({ token: 't0k' });
    github.fail({ method: 'POST', path: /check-runs$/, status: 403, headers: { 'retry-after': '1' }, body: { message: 'You have exceeded a secondary rate limit.' }, times: 2 });
    const waits: number[] = [];
    const client = createGithubClient({ auth: { token: 't0k' }, apiUrl: github.url, sleep: async (ms) => void waits.push(ms) });
    const octokit = await client.forRepo('acme', 'ops');
    await octokit.rest.checks.create({ owner: 'acme', repo: 'ops', name: 'eventops/x', head_sha: 'b'.repeat(40) });
    expect(waits).toEqual([1000, 1000]);
    expect(github.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
    expect(github.checkRuns).toHaveLength(1);
  });

  it('hands a long wait back to the caller as a GithubRateLimitedError', async () => {
    github = await startFakeGithub({ token: 't0k' });
    github.fail({ path: /comments$/, status: 429, headers: { 'retry-after': '600' } });
    const client = createGithubClient({ auth: { token: 't0k' }, apiUrl: github.url, maxWaitMs: 5_000 });
    const octokit = await client.forRepo('acme', 'ops');
    const error = await octokit.rest.issues.createComment({ owner: 'acme', repo: 'ops', issue_number: 1, body: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GithubRateLimitedError);
    expect(error).toMatchObject({ kind: 'waiting', retryAfterMs: 600_000 });
    expect(github.comments).toHaveLength(0);
  });

  it('does not retry an error that is not a rate limit', async () => {
    github = await startFakeGithub({ token: 't0k' });
    github.fail({ path: /comments$/, status: 403, body: { message: 'Resource not accessible by integration' } });
    const client = createGithubClient({ auth: { token: 't0k' }, apiUrl: github.url, sleep: async () => expect.fail('must not wait') });
    const octokit = await client.forRepo('acme', 'ops');
    await expect(octokit.rest.issues.createComment({ owner: 'acme', repo: 'ops', issue_number: 1, body: 'x' })).rejects.toMatchObject({ status: 403 });
    expect(github.requests).toHaveLength(1);
  });
});

describe('rateLimitWait', () => {
  const now = Date.parse('2026-12-05T10:00:00Z');
  it('reads retry-after in seconds or as a date, the primary limit reset, and the secondary message', () => {
    expect(rateLimitWait({ status: 403, headers: { 'retry-after': '30' } }, now)).toBe(30_000);
    expect(rateLimitWait({ status: 429, headers: { 'retry-after': 'Sat, 05 Dec 2026 10:00:10 GMT' } }, now)).toBe(10_000);
    expect(rateLimitWait({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 120) } }, now)).toBe(121_000);
    expect(rateLimitWait({ status: 403, headers: {}, message: 'You have exceeded a secondary rate limit' }, now)).toBe(60_000);
    expect(rateLimitWait({ status: 403, headers: {}, message: 'Resource not accessible by integration' }, now)).toBeUndefined();
    expect(rateLimitWait({ status: 500, headers: { 'retry-after': '5' } }, now)).toBeUndefined();
  });
});
