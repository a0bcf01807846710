// The set-up shared by the end-to-end tests of eventops' GitHub integration: a real git server
// with repository acme/ops holding the definitions, a fake GitHub API, and `eventops serve` as a
// process whose git source is that repository and whose `github:` block points at the fake (a
// token and a webhook secret), plus the helpers those tests use against it: the HTTP API, waiting
// with the server's output and GitHub's calls in the failure message, and signed webhook
// deliveries of GitHub's published example payloads.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { expect } from 'vitest';
import { startFakeGithub, type FakeGithub, type FakeGithubOptions } from './fake-github.js';
import { startGitServer, type GitServer, type TestRepo } from './git-server.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const REPOSITORY = 'acme/ops';
const HOOK_SECRET = 'gh-hook-secret-st4';
const GH_TOKEN = 'ghs_fake_installation_token_st4';

export type Payload = Record<string, unknown>;

/** An event as GET /api/v1/events/:id shows it. */
export interface EventView {
  status: string;
  runs: { id: string; pipeline: string }[];
  verdicts: { trigger: string; verdict: string; reason: string }[];
}

/** A copy of GitHub's published example of `event` (the first one, or the first with `action`); throws when there is none. */
export function webhookExample(event: string, action?: string): Payload {
  const list = (examples as unknown as { name: string; examples: Payload[] }[]).find((d) => d.name === event)?.examples ?? [];
  const found = list.find((e) => action === undefined || e.action === action);
  if (!found) throw new Error(`no published example of ${event}${action ? `.${action}` : ''}`);
  return structuredClone(found);
}

export interface GithubStackOptions {
  /** Names the temp folder (`eventops-<name>-…`). */
  name: string;
  /** Files of acme/ops (paths from the repository's root; definitions go under `eventops/`), committed on main as "definitions". */
  files: Record<string, string>;
  /** Options of the fake GitHub API besides its token (permissions, pull requests). */
  fake?: Omit<FakeGithubOptions, 'token'>;
  /** `server.publicUrl` of eventops; default none. */
  publicUrl?: string;
  /** Runs after the first commit, before anything else starts (e.g. to push branches); leave main checked out. */
  prepare?: (repo: TestRepo) => Promise<void>;
}

export interface GithubStack {
  dir: string;
  git: GitServer;
  repo: TestRepo;
  /** The commit of `files` on main: the revision the server has applied when the stack is returned. */
  commit: string;
  github: FakeGithub;
  server: ServerProcess;
  /** GET (or `init`) on the server's API with the admin token; throws on a status other than 2xx. */
  api<T>(path: string, init?: RequestInit): Promise<T>;
  /** Reads until `done` holds, every 100 ms, for `ms` (default 30 s); then throws with the server's output and GitHub's calls. */
  until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms?: number): Promise<T>;
  /** Posts a signed delivery to /webhooks/github, expects 202, and resolves with the event once it is matched. */
  deliver(event: string, payload: Payload): Promise<EventView>;
  /** Stops the server, then the fake and the git server; removes the temp folder. */
  close(): Promise<void>;
}

/** Starts git server, fake GitHub and `eventops serve` (in that order); resolves once `files` are applied. Call close() in afterAll. */
export async function startGithubStack(options: GithubStackOptions): Promise<GithubStack> {
  const dir = await mkdtemp(join(tmpdir(), `eventops-${options.name}-`));
  let git: GitServer | undefined;
  let github: FakeGithub | undefined;
  let server: ServerProcess | undefined;
  const close = async () => {
    await server?.stop();
    await github?.close();
    await git?.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    git = await startGitServer();
    const repo = await git.createRepo(REPOSITORY);
    await repo.write(options.files);
    const commit = await repo.commit('definitions');
    await options.prepare?.(repo);
    github = await startFakeGithub({ ...options.fake, token: GH_TOKEN });
    const config = join(dir, 'eventops.yaml');
    await writeFile(
      config,
      [
        `server: { port: 0, host: 127.0.0.1${options.publicUrl ? `, publicUrl: "${options.publicUrl}"` : ''} }`,
        `dataDir: ${join(dir, 'data')}`,
        `sources: [ { name: ops, url: "${git.url(REPOSITORY)}", ref: main, dir: eventops, interval: 1h } ]`,
        `github: { token: { secret: GH_TOKEN }, apiUrl: "${github.url}", webhookSecrets: [ { secret: GH_HOOK } ] }`,
        '',
      ].join('\n'),
    );
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_GH_TOKEN: GH_TOKEN, EVENTOPS_SECRET_GH_HOOK: HOOK_SECRET } });

    const started = { git, github, server };
    const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
      const res = await fetch(`${started.server.url}${path}`, { ...init, headers: { authorization: `Bearer ${started.server.token}` } });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const until = async <T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms = 30_000): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const value = await read();
        if (done(value)) return value;
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n--- server ---\n${started.server.output().slice(-3000)}\n--- github calls ---\n${started.github.requests.map((r) => `${r.method} ${r.path}`).join('\n').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const deliver = async (event: string, payload: Payload): Promise<EventView> => {
      const body = JSON.stringify(payload);
      const res = await fetch(`${started.server.url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(HOOK_SECRET, body) }, body });
      expect(res.status).toBe(202);
      const { eventId } = (await res.json()) as { eventId: string };
      return until('event matched', () => api<EventView>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received');
    };

    await until('definitions applied', () => api<{ activeRevision: { commit: string } | null }>('/api/v1/sources/ops'), (s) => s.activeRevision?.commit === commit);
    return { dir, ...started, repo, commit, api, until, deliver, close };
  } catch (error) {
    // Whatever started is stopped; the start's error is the one reported.
    await close().catch((closeError: unknown) => {
      throw new AggregateError([error, closeError], 'the GitHub stack failed to start, then to stop');
    });
    throw error;
  }
}
