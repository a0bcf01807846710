// The sources table as the configuration says it should be: configured sources are inserted or
// updated (location, ref, dir, config hash); sources no longer configured are deleted with their
// revisions and definitions — the configuration is the truth, as in Flux.
import { createHash } from 'node:crypto';
import { eq, notInArray, sql } from 'drizzle-orm';
import type { SourceConfig } from '../config/index.js';
import { revisions, sources, type Db } from '../schemas/database/index.js';
import type { SourceState } from './reconcile-context.js';
import { sanitizeUrl } from './sources/sanitize.js';

/**
 * Hash of what shapes the applied set: where the files come from and which are read. Changing
 * any of these makes the next reconcile parse and apply again even at the same revision.
 */
export function sourceConfigHash(s: SourceConfig): string {
  const shape = { type: s.type, url: s.url && sanitizeUrl(s.url), path: s.path, ref: s.ref ?? null, dir: s.dir, ignore: s.ignore, token: s.tokenSecret ?? null, format: 1 };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 32);
}

export function sourceLocation(s: SourceConfig): string {
  return s.type === 'git' ? sanitizeUrl(s.url as string) : (s.path as string);
}

export async function registerSources(db: Db, configured: readonly SourceConfig[]): Promise<void> {
  const names = configured.map((s) => s.name);
  await db.transaction(async (tx) => {
    if (names.length > 0) await tx.delete(sources).where(notInArray(sources.name, names));
    else await tx.delete(sources);
    for (const s of configured) {
      const row = { type: s.type, location: sourceLocation(s), ref: s.ref ?? null, dir: s.dir, configHash: sourceConfigHash(s) };
      await tx
        .insert(sources)
        .values({ name: s.name, ...row })
        .onConflictDoUpdate({ target: sources.name, set: { ...row, updatedAt: sql`now()` } });
    }
  });
}

export async function loadSourceState(db: Db, name: string): Promise<SourceState | undefined> {
  const [row] = await db
    .select({ source: sources, activeCommit: revisions.commit })
    .from(sources)
    .leftJoin(revisions, eq(revisions.id, sources.activeRevisionId))
    .where(eq(sources.name, name));
  return row ? { ...row.source, activeCommit: row.activeCommit } : undefined;
}
