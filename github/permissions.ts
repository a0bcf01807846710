// Who may run a slash-command: the commenter's permission on the repository, looked up on GitHub
// (never the webhook's `author_association`, which says how someone relates to the repository,
// not what they may do) and remembered briefly, so a burst of comments costs one look-up.
import type { GithubClient } from './github-client.js';

/** GitHub's repository permissions, lowest first. */
export const PERMISSIONS = ['none', 'read', 'triage', 'write', 'maintain', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Whether `have` is at least `need`. An unknown permission meets nothing. */
export function meetsPermission(have: string, need: string): boolean {
  const h = PERMISSIONS.indexOf(have as Permission);
  const n = PERMISSIONS.indexOf(need as Permission);
  return h >= 0 && n >= 0 && h >= n;
}

export interface PermissionLookup {
  /** `user`'s permission on `owner/repo` (`none` for someone who is not a collaborator). */
  permissionOf(owner: string, repo: string, user: string, installationId?: number): Promise<Permission>;
}

/** Look-ups remembered for `ttlMs` (default 60 s). */
export function createPermissionLookup(client: GithubClient, options: { ttlMs?: number; now?: () => number } = {}): PermissionLookup {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { permission: Permission; until: number }>();
  return {
    async permissionOf(owner, repo, user, installationId) {
      const key = `${owner}/${repo}/${user}`.toLowerCase();
      const known = cache.get(key);
      if (known && known.until > now()) return known.permission;
      const octokit = await client.forRepo(owner, repo, installationId);
      let permission: Permission;
      try {
        const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username: user });
        // `role_name` tells triage and maintain apart; `permission` folds them into read and write.
        const named = (data as { role_name?: string }).role_name;
        permission = PERMISSIONS.includes(named as Permission) ? (named as Permission) : PERMISSIONS.includes(data.permission as Permission) ? (data.permission as Permission) : 'none';
      } catch (error) {
        // Not a collaborator (or no such user): no permission at all.
        if ((error as { status?: number }).status !== 404) throw error;
        permission = 'none';
      }
      if (cache.size > 1_000) cache.clear();
      cache.set(key, { permission, until: now() + ttlMs });
      return permission;
    },
  };
}
