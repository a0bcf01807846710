// The read behind `GET /api/v1/definitions`: the active definitions (not removed by a later
// revision), filtered and paged, each with the commit that added it.
import { and, asc, count, eq, isNull } from 'drizzle-orm';
import { definitions, revisions } from '../../schemas/database/index.js';
import type { Db } from '../../schemas/database/index.js';
import type { DefinitionPage } from './api-types.js';

export interface DefinitionFilter {
  /** Stored (PascalCase) kind. */
  kind?: string;
  source?: string;
  name?: string;
  limit: number;
  offset: number;
}

/** Active definitions matching every given filter, ordered by source, kind, name. */
export async function listDefinitions(db: Db, filter: DefinitionFilter): Promise<DefinitionPage> {
  const where = and(
    isNull(definitions.removedRevisionId),
    filter.kind === undefined ? undefined : eq(definitions.kind, filter.kind),
    filter.source === undefined ? undefined : eq(definitions.source, filter.source),
    filter.name === undefined ? undefined : eq(definitions.name, filter.name),
  );
  const items = await db
    .select({
      source: definitions.source,
      kind: definitions.kind,
      name: definitions.name,
      file: definitions.file,
      line: definitions.line,
      column: definitions.column,
      legacy: definitions.legacy,
      metadata: definitions.metadata,
      spec: definitions.spec,
      revision: revisions.commit,
    })
    .from(definitions)
    .leftJoin(revisions, eq(revisions.id, definitions.addedRevisionId))
    .where(where)
    .orderBy(asc(definitions.source), asc(definitions.kind), asc(definitions.name))
    .limit(filter.limit)
    .offset(filter.offset);
  const [counted] = await db.select({ total: count() }).from(definitions).where(where);
  return { items, total: counted?.total ?? 0, limit: filter.limit, offset: filter.offset };
}
