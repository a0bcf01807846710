// What an API token may do. Every valid token may read; `admin` implies every scope. The scope a
// route needs is declared where the route is mounted (see requireToken).
export const SCOPES = ['read', 'events:write', 'runs:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/** True when a token with `granted` may do what `needed` allows: any token reads, `admin` does everything. */
export function hasScope(granted: readonly string[], needed: Scope): boolean {
  return needed === 'read' || granted.includes('admin') || granted.includes(needed);
}
