// The definitions a run reads: its pipeline, the pipelines its `pipeline` tasks start and the
// actuators its tasks may run on, all as they were at the run's revision (a run keeps its
// revision however the source moves on). A revision never changes, so what is read is cached.
import { and, eq, gt, isNull, lte, or } from 'drizzle-orm';
import type { Actuator, Pipeline } from '../../schemas/index.js';
import { definitions, revisions, type Db } from '../../schemas/database/index.js';

export interface RevisionDefinitions {
  /** The git commit (or folder digest) of the revision. */
  commit: string;
  pipelines: ReadonlyMap<string, Pipeline>;
  actuators: readonly Actuator[];
}

/** Something to run the queries on: the database, or the open transaction of the caller. */
type Executor = Pick<Db, 'select'>;

export interface DefinitionsAtRevision {
  /**
   * `via`: the caller's open transaction, if any. Inside a transaction, a query on another
   * connection would wait for a second pooled connection (and on the embedded PGlite, which has
   * one, forever).
   */
  get(source: string, revisionId: number, via?: Executor): Promise<RevisionDefinitions>;
}

/** Reads and caches (the `limit` most recent) sources' definitions by revision. */
export function definitionsAtRevision(db: Db, limit = 64): DefinitionsAtRevision {
  const cache = new Map<string, Promise<RevisionDefinitions>>();
  const load = async (source: string, revisionId: number, via: Executor): Promise<RevisionDefinitions> => {
    const [revision] = await via.select({ commit: revisions.commit }).from(revisions).where(eq(revisions.id, revisionId));
    const rows = await via
      .select({ kind: definitions.kind, name: definitions.name, metadata: definitions.metadata, spec: definitions.spec })
      .from(definitions)
      .where(
        and(
          eq(definitions.source, source),
          lte(definitions.addedRevisionId, revisionId),
          or(isNull(definitions.removedRevisionId), gt(definitions.removedRevisionId, revisionId)),
        ),
      );
    const pipelines = new Map<string, Pipeline>();
    const actuators: Actuator[] = [];
    for (const row of rows) {
      const doc = { apiVersion: 'eventops.dev/v1', kind: row.kind, metadata: row.metadata, spec: row.spec };
      if (row.kind === 'Pipeline') pipelines.set(row.name, doc as Pipeline);
      if (row.kind === 'Actuator') actuators.push(doc as Actuator);
    }
    return { commit: revision?.commit ?? String(revisionId), pipelines, actuators };
  };
  return {
    get(source, revisionId, via = db) {
      const key = `${source}@${revisionId}`;
      let hit = cache.get(key);
      if (hit) {
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
      hit = load(source, revisionId, via);
      hit.catch(() => cache.delete(key));
      cache.set(key, hit);
      if (cache.size > limit) cache.delete(cache.keys().next().value as string);
      return hit;
    },
  };
}
