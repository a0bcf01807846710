// What an API token may do. Every valid token may read, except an agent's; `admin` implies every
// scope but an agent's. The scope a route needs is declared where the route is mounted (see
// requireToken). `agent:<id>` lets an `eventops agent --id <id>` connect, and nothing else.
export const SCOPES = ['read', 'events:write', 'runs:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
export type AgentScope = `agent:${string}`;

const AGENT_SCOPE = /^agent:[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isScope(value: unknown): value is Scope | AgentScope {
  return typeof value === 'string' && ((SCOPES as readonly string[]).includes(value) || AGENT_SCOPE.test(value));
}

/** True when a token with `granted` may do what `needed` allows: any token but an agent's reads, `admin` does everything else. */
export function hasScope(granted: readonly string[], needed: Scope): boolean {
  if (needed === 'read') return granted.length === 0 || granted.some((scope) => !scope.startsWith('agent:'));
  return granted.includes('admin') || granted.includes(needed);
}
