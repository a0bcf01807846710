// A fake GitHub REST API for tests (GitHub cannot be reached from here): a real HTTP server on
// 127.0.0.1 that speaks the part of the API eventops uses — App installation tokens (the App's
// JWT is verified with its public key), a repository's installation, check runs, issue comments,
// reactions, collaborator permissions and pull requests — records every request, and answers
// with objects shaped like GitHub's published examples (test/fixtures/github-api, taken from
// GitHub's OpenAPI description) with the fields of the call filled in. Faults can be queued: the
// next N matching requests answer with a given status and headers (e.g. 403 + retry-after).
import { createPublicKey, createVerify, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export interface GithubRequest {
  method: string;
  /** Without the API prefix, e.g. `/repos/acme/ops/check-runs`. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
  at: number;
}

export interface Fault {
  method?: string;
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many requests it answers; default 1. */
  times?: number;
}

export interface FakeGithubOptions {
  /** The App's id and public key (PEM): App JWTs are checked against them. */
  app?: { id: number; publicKey: string };
  /** A plain token accepted on repository routes (token auth). */
  token?: string;
  /** The path the API is served under, e.g. `/api/v3` (GitHub Enterprise); default none. */
  prefix?: string;
  /** `owner/repo` → installation id; default 4242 for every repository. */
  installations?: Record<string, number>;
  /** `owner/repo/user` or `user` → permission (admin, maintain, write, triage, read, none); default none. */
  permissions?: Record<string, string>;
  /** `owner/repo#number` → the pull request's head sha and ref. */
  pulls?: Record<string, { sha: string; ref: string }>;
}

export interface CheckRunRecord {
  id: number;
  owner: string;
  repo: string;
  name: string;
  head_sha: string;
  status: string;
  conclusion: string | null;
  details_url?: string;
  external_id?: string;
  output?: { title?: string; summary?: string; text?: string; annotations?: unknown[] };
  /** Every annotation sent over all updates (GitHub appends them). */
  annotations: unknown[];
  /** Each create/update body, in order. */
  history: Record<string, unknown>[];
}

export interface CommentRecord {
  id: number;
  owner: string;
  repo: string;
  issue: number;
  body: string;
  reactions: string[];
  updates: number;
}

export interface FakeGithub {
  url: string;
  requests: GithubRequest[];
  checkRuns: CheckRunRecord[];
  comments: CommentRecord[];
  /** Installation tokens handed out. */
  tokensIssued: number;
  fail(fault: Fault): void;
  /** Adds a comment as if a person wrote it (for `/retest`-style look-ups); returns its id. */
  addComment(owner: string, repo: string, issue: number, body: string, user?: string): number;
  close(): Promise<void>;
}

const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'github-api', `${name}.json`), 'utf8')) as Record<string, unknown>;

export async function startFakeGithub(options: FakeGithubOptions = {}): Promise<FakeGithub> {
  const prefix = (options.prefix ?? '').replace(/\/+$/, '');
  const publicKey: KeyObject | undefined = options.app ? createPublicKey(options.app.publicKey) : undefined;
  const requests: GithubRequest[] = [];
  const checkRuns: CheckRunRecord[] = [];
  const comments: CommentRecord[] = [];
  const faults: (Fault & { left: number })[] = [];
  const tokens = new Set<string>(options.token ? [options.token] : []);
  const commentUsers = new Map<number, string>();
  let nextId = 1000;
  let tokensIssued = 0;
  let url = '';

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4990', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600), ...headers });
    res.end(text);
  };
  const notFound = (res: ServerResponse) => send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
  const unauthorized = (res: ServerResponse, why: string) => send(res, 401, { message: `Bad credentials (${why})`, documentation_url: 'https://docs.github.com/rest', status: '401' });

  const verifyAppJwt = (authorization: string | undefined): string | undefined => {
    if (!options.app || !publicKey) return 'no App is configured';
    const jwt = /^bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (!jwt) return 'an App JWT is needed';
    const [header, payload, signature] = jwt.split('.');
    if (!header || !payload || !signature) return 'not a JWT';
    const verifier = createVerify('RSA-SHA256');
    verifier.update(`${header}.${payload}`);
    if (!verifier.verify(publicKey, Buffer.from(signature, 'base64url'))) return 'the JWT signature does not match the App key';
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown; exp?: number };
    if (String(claims.iss) !== String(options.app.id)) return `the JWT is for App ${String(claims.iss)}`;
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return 'the JWT expired';
    return undefined;
  };
  const tokenOk = (authorization: string | undefined) => {
    const token = /^(?:token|bearer) (.+)$/i.exec(authorization ?? '')?.[1];
    return token !== undefined && tokens.has(token);
  };
  const repoBase = (owner: string, repo: string) => ({ full_name: `${owner}/${repo}`, name: repo, owner: { login: owner } });
  const checkRunJson = (run: CheckRunRecord) => ({
    ...fixture('check-run'),
    id: run.id,
    name: run.name,
    head_sha: run.head_sha,
    status: run.status,
    conclusion: run.conclusion,
    details_url: run.details_url ?? null,
    external_id: run.external_id ?? '',
    url: `${url}/repos/${run.owner}/${run.repo}/check-runs/${run.id}`,
    output: { title: run.output?.title ?? null, summary: run.output?.summary ?? null, text: run.output?.text ?? null, annotations_count: run.annotations.length },
  });
  const commentJson = (c: CommentRecord) => ({
    ...fixture('issue-comment'),
    id: c.id,
    body: c.body,
    url: `${url}/repos/${c.owner}/${c.repo}/issues/comments/${c.id}`,
    issue_url: `${url}/repos/${c.owner}/${c.repo}/issues/${c.issue}`,
    user: { ...(fixture('issue-comment').user as object), login: commentUsers.get(c.id) ?? 'eventops[bot]', type: commentUsers.has(c.id) ? 'User' : 'Bot' },
  });

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const parsed = new URL(req.url ?? '/', 'http://x');
    if (prefix && !parsed.pathname.startsWith(prefix)) return notFound(res);
    const path = parsed.pathname.slice(prefix.length);
    const method = req.method ?? 'GET';
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      return send(res, 400, { message: 'Problems parsing JSON' });
    }
    requests.push({ method, path, query: Object.fromEntries(parsed.searchParams), body, authorization: req.headers.authorization, at: Date.now() });
    const fault = faults.find((f) => f.left > 0 && (f.method === undefined || f.method === method) && f.path.test(path));
    if (fault) {
      fault.left--;
      return send(res, fault.status, fault.body ?? { message: `fault ${fault.status}` }, fault.headers ?? {});
    }
    const b = (body ?? {}) as Record<string, unknown>;
    let m: RegExpExecArray | null;

    if ((m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path)) && method === 'POST') {
      const why = verifyAppJwt(req.headers.authorization);
      if (why) return unauthorized(res, why);
      const token = `ghs_${randomBytes(18).toString('hex')}`;
      tokens.add(token);
      tokensIssued++;
      return send(res, 201, { ...fixture('installation-token'), token, expires_at: new Date(Date.now() + 3600_000).toISOString() });
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(path)) && method === 'GET') {
      const why = verifyAppJwt(req.headers.authorization);
      if (why) return unauthorized(res, why);
      const id = options.installations?.[`${m[1]}/${m[2]}`] ?? 4242;
      return send(res, 200, { ...fixture('installation'), id });
    }
    if (!path.startsWith('/repos/')) return notFound(res);
    if (!tokenOk(req.headers.authorization)) return unauthorized(res, 'not a token this server issued');

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs$/.exec(path)) && method === 'POST') {
      if (typeof b.name !== 'string' || typeof b.head_sha !== 'string') return send(res, 422, { message: 'Invalid request. "name" and "head_sha" are required.' });
      const output = b.output as CheckRunRecord['output'];
      const run: CheckRunRecord = { id: nextId++, owner: m[1]!, repo: m[2]!, name: b.name, head_sha: b.head_sha, status: (b.status as string) ?? 'queued', conclusion: (b.conclusion as string) ?? null, annotations: [...(output?.annotations ?? [])], history: [b], ...(output ? { output } : {}) };
      if (typeof b.details_url === 'string') run.details_url = b.details_url;
      if (typeof b.external_id === 'string') run.external_id = b.external_id;
      if (b.conclusion !== undefined) run.status = 'completed';
      checkRuns.push(run);
      return send(res, 201, checkRunJson(run));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs\/(\d+)$/.exec(path))) {
      const run = checkRuns.find((r) => r.id === Number(m![3]) && r.owner === m![1] && r.repo === m![2]);
      if (!run) return notFound(res);
      if (method === 'GET') return send(res, 200, checkRunJson(run));
      if (method !== 'PATCH') return notFound(res);
      const output = b.output as CheckRunRecord['output'];
      if ((output?.annotations?.length ?? 0) > 50) return send(res, 422, { message: 'Only 50 annotations are allowed per request' });
      run.history.push(b);
      for (const key of ['name', 'status', 'conclusion', 'details_url', 'external_id'] as const) if (typeof b[key] === 'string') (run as unknown as Record<string, unknown>)[key] = b[key];
      if (typeof b.conclusion === 'string') run.status = 'completed';
      if (output) {
        run.output = { ...run.output, ...output };
        run.annotations.push(...(output.annotations ?? []));
      }
      return send(res, 200, checkRunJson(run));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(path))) {
      const [owner, repo, issue] = [m[1]!, m[2]!, Number(m[3])];
      if (method === 'GET') return send(res, 200, comments.filter((c) => c.owner === owner && c.repo === repo && c.issue === issue).map(commentJson));
      if (method !== 'POST' || typeof b.body !== 'string') return send(res, 422, { message: '"body" is required' });
      const comment: CommentRecord = { id: nextId++, owner, repo, issue, body: b.body, reactions: [], updates: 0 };
      comments.push(comment);
      return send(res, 201, commentJson(comment));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(path))) {
      const comment = comments.find((c) => c.id === Number(m![3]));
      if (!comment) return notFound(res);
      if (method === 'GET') return send(res, 200, commentJson(comment));
      if (method !== 'PATCH' || typeof b.body !== 'string') return notFound(res);
      comment.body = b.body;
      comment.updates++;
      return send(res, 200, commentJson(comment));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)\/reactions$/.exec(path)) && method === 'POST') {
      const id = Number(m[3]);
      let comment = comments.find((c) => c.id === id);
      if (!comment) {
        // A comment GitHub has but this fake was not told of (from a replayed webhook): known from now on.
        comment = { id, owner: m[1]!, repo: m[2]!, issue: 0, body: '', reactions: [], updates: 0 };
        comments.push(comment);
      }
      comment.reactions.push(String(b.content));
      return send(res, 201, { ...fixture('reaction'), id: nextId++, content: b.content });
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/.exec(path)) && method === 'GET') {
      const user = decodeURIComponent(m[3]!);
      const permission = options.permissions?.[`${m[1]}/${m[2]}/${user}`] ?? options.permissions?.[user] ?? 'none';
      const example = fixture('collaborator-permission');
      return send(res, 200, { ...example, permission, role_name: permission, user: { ...(example.user as object), login: user } });
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/.exec(path)) && method === 'GET') {
      const pull = options.pulls?.[`${m[1]}/${m[2]}#${m[3]}`];
      if (!pull) return notFound(res);
      const example = fixture('pull-request');
      return send(res, 200, { ...example, number: Number(m[3]), head: { ...(example.head as object), sha: pull.sha, ref: pull.ref, repo: repoBase(m[1]!, m[2]!) }, base: { ...(example.base as object), repo: repoBase(m[1]!, m[2]!) } });
    }
    return notFound(res);
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  return {
    url,
    requests,
    checkRuns,
    comments,
    get tokensIssued() {
      return tokensIssued;
    },
    fail: (fault) => void faults.push({ ...fault, left: fault.times ?? 1 }),
    addComment(owner, repo, issue, body, user = 'octocat') {
      const id = nextId++;
      comments.push({ id, owner, repo, issue, body, reactions: [], updates: 0 });
      commentUsers.set(id, user);
      return id;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
