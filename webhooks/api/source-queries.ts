// The reads behind the sources routes: one query for the list, a handful for one source's
// detail. Plain drizzle selects that run the same on PostgreSQL and PGlite.
import { desc, eq } from 'drizzle-orm';
import { revisions, sources } from '../../schemas/database/index.js';
import type { Condition, Db, StoredDiagnostic } from '../../schemas/database/index.js';
import type { ConditionStatus, DiagnosticItem, LastRevision, RevisionItem, SourceDetail, SourceSummary } from './api-types.js';

/** How many revisions the detail lists. */
export const REVISION_HISTORY = 20;

const summaryColumns = {
  name: sources.name,
  type: sources.type,
  location: sources.location,
  ref: sources.ref,
  dir: sources.dir,
  conditions: sources.conditions,
  history: sources.history,
  lastAttemptAt: sources.lastAttemptAt,
  revisionId: revisions.id,
  commit: revisions.commit,
  revisionCreatedAt: revisions.createdAt,
  fileCount: revisions.fileCount,
  definitionCount: revisions.definitionCount,
  warningCount: revisions.warningCount,
  timings: revisions.timings,
};

function selectSources(db: Db) {
  return db.select(summaryColumns).from(sources).leftJoin(revisions, eq(revisions.id, sources.activeRevisionId));
}

type SourceWithActive = Awaited<ReturnType<typeof selectSources>>[number];

/** Every source, by name. */
export async function listSources(db: Db): Promise<SourceSummary[]> {
  const rows = await selectSources(db).orderBy(sources.name);
  return rows.map((row) => {
    const { activeRevision, ...summary } = toDetailBase(row);
    return {
      ...summary,
      activeRevision: activeRevision && { commit: activeRevision.commit, appliedAt: activeRevision.appliedAt, definitionCount: activeRevision.definitionCount },
    };
  });
}

/** One source with its revisions, or undefined when there is no source of that name. */
export async function getSource(db: Db, name: string): Promise<SourceDetail | undefined> {
  const [row] = await selectSources(db).where(eq(sources.name, name));
  if (!row) return undefined;
  const recent = await db
    .select({ id: revisions.id, commit: revisions.commit, status: revisions.status, errorCount: revisions.errorCount, createdAt: revisions.createdAt })
    .from(revisions)
    .where(eq(revisions.source, name))
    .orderBy(desc(revisions.id))
    .limit(REVISION_HISTORY);
  const revisionItems: RevisionItem[] = recent.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
  return { ...toDetailBase(row), lastRevision: recent[0] ? await lastRevision(db, recent[0].id) : null, history: row.history, revisions: revisionItems };
}

async function lastRevision(db: Db, id: number): Promise<LastRevision | null> {
  // Read apart from the list so only one revision's diagnostics (possibly many) are loaded.
  const [r] = await db.select().from(revisions).where(eq(revisions.id, id));
  if (!r) return null;
  return {
    id: r.id,
    commit: r.commit,
    status: r.status,
    createdAt: r.createdAt.toISOString(),
    errorCount: r.errorCount,
    warningCount: r.warningCount,
    errors: r.diagnostics.filter((d) => d.severity === 'error').map(toItem),
    warnings: r.diagnostics.filter((d) => d.severity === 'warning').map(toItem),
  };
}

function toDetailBase(row: SourceWithActive): Omit<SourceDetail, 'lastRevision' | 'history' | 'revisions'> {
  const active =
    row.revisionId === null || row.commit === null || row.revisionCreatedAt === null
      ? null
      : {
          id: row.revisionId,
          commit: row.commit,
          appliedAt: row.revisionCreatedAt.toISOString(),
          createdAt: row.revisionCreatedAt.toISOString(),
          fileCount: row.fileCount ?? 0,
          definitionCount: row.definitionCount ?? 0,
          warningCount: row.warningCount ?? 0,
          timings: row.timings ?? {},
        };
  return {
    name: row.name,
    type: row.type,
    location: row.location,
    ref: row.ref,
    dir: row.dir,
    ready: readyStatus(row.conditions),
    conditions: row.conditions,
    activeRevision: active,
    lastAttemptAt: row.lastAttemptAt?.toISOString() ?? null,
  };
}

/** The status of the `Ready` condition, `Unknown` when there is none yet. */
export function readyStatus(conditions: readonly Condition[]): ConditionStatus {
  return conditions.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
}

function toItem(d: StoredDiagnostic): DiagnosticItem {
  return { file: d.file, line: d.line, column: d.column, rule: d.rule, message: d.message };
}
