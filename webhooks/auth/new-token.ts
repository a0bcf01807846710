// Checks the request for a new token (`POST /api/v1/tokens`): a name like a source's and a
// non-empty list of known scopes. Pure; the route turns a problem into a 400.
import { SCOPES, isScope, type AgentScope, type Scope } from './scopes.js';

/** Lowercase letters, digits and `-`, starting and ending with a letter or digit; at most 63. */
export const TOKEN_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const TOKEN_NAME_MAX = 63;

export interface NewToken {
  name: string;
  scopes: (Scope | AgentScope)[];
}

/** Thrown by parseNewToken with every problem of the request, one per line. */
export class NewTokenError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'NewTokenError';
  }
}

/** `{ name, scopes }` from an untrusted body; duplicate scopes are dropped. Throws NewTokenError. */
export function parseNewToken(body: unknown): NewToken {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new NewTokenError(['the body must be a JSON object like {"name": "ci", "scopes": ["events:write"]}']);
  }
  const problems: string[] = [];
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'name' && key !== 'scopes') problems.push(`unknown field ${JSON.stringify(key)}; allowed: name, scopes`);
  }
  const { name, scopes } = record;
  if (typeof name !== 'string' || !TOKEN_NAME_PATTERN.test(name) || name.length > TOKEN_NAME_MAX) {
    problems.push(`name must be lowercase letters, digits and "-", at most ${TOKEN_NAME_MAX} (got ${JSON.stringify(name ?? null)})`);
  }
  const allowed = `use one or more of ${SCOPES.join(', ')}, or agent:<id> for an agent`;
  if (!Array.isArray(scopes) || scopes.length === 0) {
    problems.push(`scopes must be a non-empty list: ${allowed}`);
  } else {
    const unknown = scopes.filter((s) => !isScope(s));
    if (unknown.length > 0) problems.push(`unknown scope ${unknown.map((s) => JSON.stringify(s)).join(', ')}: ${allowed}`);
  }
  if (problems.length > 0) throw new NewTokenError(problems);
  return { name: name as string, scopes: [...new Set(scopes as (Scope | AgentScope)[])] };
}
