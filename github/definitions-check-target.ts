// Which GitHub events get an `eventops/definitions` check, and on what: a push (not a deleted
// branch) or a pull request opened, synchronized or reopened, on the repository of a configured
// git source (its clone or html URL equals the source's `url`, credentials and `.git` aside, as
// for the reconcile a push asks for). The check goes on the pushed commit or the PR's head. Pure.
import type { SourceConfig } from '../config/index.js';
import { sanitizeUrl } from '../reconciler/index.js';

export interface DefinitionsCheckTarget {
  owner: string;
  repo: string;
  headSha: string;
  /** The configured sources on this repository, in configuration order. */
  sources: string[];
  /** The App installation the webhook came from (saves a look-up). */
  installationId?: number;
  /** The branch pushed to, or the pull request's base branch. */
  branch?: string;
  pullNumber?: number;
}

const SHA = /^[0-9a-f]{40}$/i;
const ZERO_SHA = /^0{40}$/;
const PULL_ACTIONS = new Set(['opened', 'synchronize', 'reopened']);

/** The check to make for this event, or undefined when it gets none. */
export function definitionsCheckTarget(event: { source: string; type: string; action?: string | null; body: unknown }, sources: readonly Pick<SourceConfig, 'name' | 'type' | 'url'>[]): DefinitionsCheckTarget | undefined {
  if (event.source !== 'github') return undefined;
  const body = asObject(event.body);
  let headSha: unknown;
  let branch: unknown;
  let pullNumber: unknown;
  if (event.type === 'push') {
    if (body.deleted === true) return undefined;
    headSha = body.after;
    branch = typeof body.ref === 'string' && body.ref.startsWith('refs/heads/') ? body.ref.slice('refs/heads/'.length) : undefined;
  } else if (event.type === 'pull_request') {
    const action = event.action ?? body.action;
    if (typeof action !== 'string' || !PULL_ACTIONS.has(action)) return undefined;
    const pr = asObject(body.pull_request);
    headSha = asObject(pr.head).sha;
    branch = asObject(pr.base).ref;
    pullNumber = pr.number;
  } else {
    return undefined;
  }
  if (typeof headSha !== 'string' || !SHA.test(headSha) || ZERO_SHA.test(headSha)) return undefined;
  const repository = asObject(body.repository);
  const [owner, repo, ...rest] = typeof repository.full_name === 'string' ? repository.full_name.split('/') : [];
  if (!owner || !repo || rest.length > 0) return undefined;
  const urls = [repository.clone_url, repository.html_url].filter((u): u is string => typeof u === 'string').map(repoKey);
  const matched = sources.filter((s) => s.type === 'git' && typeof s.url === 'string' && urls.includes(repoKey(s.url))).map((s) => s.name);
  if (matched.length === 0) return undefined;
  const installationId = asObject(body.installation).id;
  return {
    owner,
    repo,
    headSha: headSha.toLowerCase(),
    sources: matched,
    ...(typeof installationId === 'number' ? { installationId } : {}),
    ...(typeof branch === 'string' ? { branch } : {}),
    ...(typeof pullNumber === 'number' ? { pullNumber } : {}),
  };
}

/** A repository URL without scheme, credentials, `.git` and trailing slashes, lower case. */
function repoKey(url: string): string {
  return sanitizeUrl(url).toLowerCase().replace(/^https?:\/\//, '').replace(/\.git$/, '').replace(/\/+$/, '');
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
