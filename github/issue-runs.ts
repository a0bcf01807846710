// Which runs belong to an issue or pull request, for the built-in commands that act on them
// (`/approve`, `/reject`, `/cancel`, `/retest`): the runs whose report target (github_reports,
// written when a run is first reported) is that issue or PR, or the PR's head commit.
import { and, desc, eq, inArray, isNull, or } from 'drizzle-orm';
import { githubReports, runs, taskRuns, type Db, type RunRow, type TaskRunRow } from '../schemas/database/index.js';

export interface IssueRef {
  owner: string;
  repo: string;
  issue: number;
  /** A pull request's head commit: runs of pushes to it belong to the PR too. */
  headSha?: string;
}

/** Top-level runs of the issue or PR, newest first, with the given statuses (all when absent). */
export async function issueRuns(db: Db, ref: IssueRef, statuses?: readonly string[]): Promise<RunRow[]> {
  const where = and(
    eq(githubReports.owner, ref.owner),
    eq(githubReports.repo, ref.repo),
    ref.headSha === undefined ? eq(githubReports.issueNumber, ref.issue) : or(eq(githubReports.issueNumber, ref.issue), eq(githubReports.headSha, ref.headSha)),
    isNull(runs.parentRunId),
    statuses === undefined ? undefined : inArray(runs.status, [...statuses]),
  );
  const rows = await db.select({ run: runs }).from(githubReports).innerJoin(runs, eq(runs.id, githubReports.runId)).where(where).orderBy(desc(runs.createdAt));
  return rows.map((r) => r.run);
}

/** Tasks waiting for an approval in `runIds`. */
export async function waitingApprovals(db: Db, runIds: readonly string[]): Promise<TaskRunRow[]> {
  if (runIds.length === 0) return [];
  return db
    .select()
    .from(taskRuns)
    .where(and(inArray(taskRuns.runId, [...runIds]), eq(taskRuns.status, 'waiting_approval')));
}
