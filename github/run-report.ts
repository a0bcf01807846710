// The `report-run` job: makes the check run `eventops/<pipeline>` on the run's commit, and the
// pipeline's sticky comment on the run's issue or pull request (per the trigger's
// `report.comment`), show the run as it is now. The first report creates the check run and stores its id; every later one
// PATCHes that id, so a run never gets two. One reporter at a time writes for a run (a lease in
// `github_reports.lock_until`); a job that finds the lease taken fails and is retried by the
// queue. Annotations go with the completing report only (GitHub appends them), 50 per request.
import { and, asc, desc, eq, isNull, lte, or, gt, sql } from 'drizzle-orm';
import { definitions, events, githubComments, githubReports, logChunks, revisions, runs, taskRuns, type Db, type GithubReportRow, type RunRow } from '../schemas/database/index.js';
import { annotationBatches, checkOutput, checkState } from './check-output.js';
import type { GithubClient } from './github-client.js';
import { reportTarget } from './report-target.js';

export interface RunReporterDeps {
  db: Db;
  client: GithubClient;
  /** Where people reach this server: the check run links to `<publicUrl>/runs/<id>`. */
  publicUrl?: string;
  /** The path in `owner/repo` of a definition file of `source`, when that source is that repository; else undefined. */
  repoPath?(source: string, owner: string, repo: string, file: string): string | undefined;
  /** Check runs on the run's commit; default true. Off, only sticky comments are written. */
  checks?: boolean;
  /** How long one report may hold a run's lease; default 60 s. */
  leaseMs?: number;
  now?: () => number;
}

/** GitHub events that are a person's comment: runs they start are "on command". */
const COMMENT_EVENTS: ReadonlySet<string> = new Set(['issue_comment', 'pull_request_review_comment']);

/** The sticky comment: a marker, the run's state and its task table (no line starts with `/`: never read as a command). */
function stickyBody(pipeline: string, output: { title: string; summary: string }, conclusion: string | undefined): string {
  const icon = conclusion === undefined ? '🔄' : conclusion === 'success' ? '✅' : '❌';
  return [`<!-- eventops: pipeline ${pipeline} -->`, `${icon} **eventops/${pipeline}** — ${output.title}`, '', output.summary].join('\n');
}

/** Lines of a failed task's log put in the check run's text. */
const LOG_TAIL_LINES = 60;

/** Reports one job writes in a row while its run keeps changing, before it hands over to a retry. */
const MAX_ROUNDS = 20;

/** Thrown when a report could not catch up with its run, or a sticky comment is being created by another report: a transient error, the job is retried. */
export class ReportBusyError extends Error {
  readonly kind = 'transient';
  readonly reason = 'ReportBusy';
}

export interface RunReporter {
  /** Brings the run's check run up to date; does nothing for a run whose event has no commit or PR. */
  report(runId: string): Promise<void>;
}

export function createRunReporter(deps: RunReporterDeps): RunReporter {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const leaseMs = deps.leaseMs ?? 60_000;
  const checks = deps.checks ?? true;

  async function report(runId: string): Promise<void> {
    const [row] = await db.select({ run: runs, event: events }).from(runs).innerJoin(events, eq(events.id, runs.eventId)).where(eq(runs.id, runId));
    if (!row || row.run.parentRunId !== null) return;
    const target = reportTarget(row.event);
    if (!target) return;
    await db
      .insert(githubReports)
      .values({ runId, owner: target.owner, repo: target.repo, headSha: target.headSha ?? null, issueNumber: target.issueNumber ?? null, isPull: target.isPull ?? false, installationId: target.installationId ?? null })
      .onConflictDoNothing();
    // The lease holder writes until what GitHub shows is the run's latest version, re-reading
    // after it lets the lease go; a job that finds the lease held leaves the work to the holder.
    // (Its version was committed before it looked, so the holder's read after letting go sees it.)
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const [held] = await db
        .update(githubReports)
        .set({ lockUntil: sql`now() + ${leaseMs}::double precision * interval '1 millisecond'` })
        .where(and(eq(githubReports.runId, runId), or(isNull(githubReports.lockUntil), lte(githubReports.lockUntil, sql`now()`))))
        .returning();
      if (!held) return;
      try {
        await write(held, row.event);
      } finally {
        await db.update(githubReports).set({ lockUntil: null, updatedAt: sql`now()` }).where(eq(githubReports.runId, runId));
      }
      const [state] = await db.select({ version: runs.version, reported: githubReports.reportedVersion }).from(runs).innerJoin(githubReports, eq(githubReports.runId, runs.id)).where(eq(runs.id, runId));
      if (!state || state.reported === state.version) return;
    }
    throw new ReportBusyError(`the run ${runId} kept changing while it was reported; this report is retried`);
  }

  async function write(held: GithubReportRow, event: { type: string }): Promise<void> {
    const { runId, owner, repo } = held;
    const octokit = await deps.client.forRepo(owner, repo, held.installationId ?? undefined);
    // The run as it is now, read under the lease: a late job writes the latest state, not its own.
    const [current] = await db.select({ run: runs, commit: revisions.commit }).from(runs).innerJoin(revisions, eq(revisions.id, runs.revisionId)).where(eq(runs.id, runId));
    if (!current) return;
    const { run } = current;
    if (held.reportedVersion === run.version) return;
    let headSha = held.headSha;
    if (headSha === null && checks && held.issueNumber !== null && held.isPull) {
      const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: held.issueNumber });
      headSha = data.head.sha;
      await db.update(githubReports).set({ headSha }).where(eq(githubReports.runId, runId));
    }
    const tasks = await db.select().from(taskRuns).where(eq(taskRuns.runId, runId)).orderBy(asc(taskRuns.position));
    const state = checkState(run.status);
    const completed = state.status === 'completed';
    const failed = completed ? tasks.find((t) => t.status === 'failed' || t.status === 'timed_out') : undefined;
    const failedLog = failed ? { task: failed.name, lines: await logTail(runId, failed.name, failed.attempt) } : undefined;
    const pipelineFile = completed ? await pipelineFileOf(run.source, run.pipeline, run.revisionId, owner, repo) : undefined;
    const runUrl = deps.publicUrl ? `${deps.publicUrl}/runs/${encodeURIComponent(runId)}` : undefined;
    const output = checkOutput({
      run: { id: runId, pipeline: run.pipeline, status: run.status, error: run.error, revision: current.commit, source: run.source },
      tasks,
      ...(failedLog ? { failedLog } : {}),
      ...(pipelineFile ? { pipelineFile } : {}),
      ...(runUrl ? { runUrl } : {}),
      now: now(),
    });
    const trigger = await triggerSpecOf(run);
    if (checks && trigger.report?.checks !== false && headSha !== null) {
      const [first, ...rest] = annotationBatches(output.annotations);
      const fields = {
        status: state.status,
        ...(state.conclusion ? { conclusion: state.conclusion, completed_at: (run.finishedAt ?? new Date(now())).toISOString() } : {}),
        ...(run.startedAt ? { started_at: run.startedAt.toISOString() } : {}),
        ...(runUrl ? { details_url: runUrl } : {}),
        output: { title: output.title, summary: output.summary, ...(output.text ? { text: output.text } : {}), ...(first!.length > 0 ? { annotations: first! } : {}) },
      };
      let checkRunId = held.checkRunId;
      if (checkRunId === null) {
        const { data } = await octokit.rest.checks.create({ owner, repo, name: `eventops/${run.pipeline}`, head_sha: headSha, external_id: runId, ...fields });
        checkRunId = data.id;
        // Stored at once: whatever fails next, later reports PATCH this check run.
        await db.update(githubReports).set({ checkRunId }).where(eq(githubReports.runId, runId));
      } else {
        await octokit.rest.checks.update({ owner, repo, check_run_id: checkRunId, ...fields });
      }
      for (const batch of rest) {
        await octokit.rest.checks.update({ owner, repo, check_run_id: checkRunId, output: { title: output.title, summary: output.summary, annotations: batch } });
      }
    }
    if (held.issueNumber !== null && wantsComment(trigger, run, event, completed)) {
      await stickyComment(octokit, { owner, repo, issue: held.issueNumber, run, body: stickyBody(run.pipeline, output, state.conclusion) });
    }
    await db.update(githubReports).set({ reportedVersion: run.version }).where(eq(githubReports.runId, runId));
  }

  /** The spec of the run's trigger at the run's revision (empty for runs of built-in commands such as `/run`). */
  async function triggerSpecOf(run: RunRow): Promise<{ report?: { checks?: boolean; comment?: string } }> {
    const [trigger] = await db
      .select({ spec: definitions.spec })
      .from(definitions)
      .where(and(eq(definitions.source, run.source), eq(definitions.kind, 'Trigger'), eq(definitions.name, run.trigger), lte(definitions.addedRevisionId, run.revisionId), or(isNull(definitions.removedRevisionId), gt(definitions.removedRevisionId, run.revisionId))))
      .limit(1);
    return (trigger?.spec ?? {}) as { report?: { checks?: boolean; comment?: string } };
  }

  /** The trigger's `report.comment` (default `on-command`): whether this run comments on its issue now. */
  function wantsComment(trigger: { report?: { comment?: string } }, run: RunRow, event: { type: string }, completed: boolean): boolean {
    const mode = trigger.report?.comment ?? 'on-command';
    switch (mode) {
      case 'always':
        return true;
      case 'never':
        return false;
      case 'on-failure':
        return completed && run.status !== 'succeeded';
      default:
        return COMMENT_EVENTS.has(event.type);
    }
  }

  /** One comment per issue and pipeline: created once, then edited; an older run never overwrites a newer one's. */
  async function stickyComment(octokit: Awaited<ReturnType<GithubClient['forRepo']>>, at: { owner: string; repo: string; issue: number; run: RunRow; body: string }): Promise<void> {
    const key = and(eq(githubComments.owner, at.owner), eq(githubComments.repo, at.repo), eq(githubComments.issueNumber, at.issue), eq(githubComments.pipeline, at.run.pipeline));
    await db.insert(githubComments).values({ owner: at.owner, repo: at.repo, issueNumber: at.issue, pipeline: at.run.pipeline }).onConflictDoNothing();
    const [held] = await db
      .update(githubComments)
      .set({ lockUntil: sql`now() + ${leaseMs}::double precision * interval '1 millisecond'` })
      .where(and(key, or(isNull(githubComments.lockUntil), lte(githubComments.lockUntil, sql`now()`))))
      .returning();
    if (!held) throw new ReportBusyError(`another report is writing the comment of pipeline ${at.run.pipeline} on ${at.owner}/${at.repo}#${at.issue}; this report is retried`);
    try {
      if (held.runId !== null && held.runId !== at.run.id) {
        const [shown] = await db.select({ createdAt: runs.createdAt }).from(runs).where(eq(runs.id, held.runId));
        if (shown && shown.createdAt > at.run.createdAt) return;
      }
      if (held.commentId === null) {
        const { data } = await octokit.rest.issues.createComment({ owner: at.owner, repo: at.repo, issue_number: at.issue, body: at.body });
        await db.update(githubComments).set({ commentId: data.id, runId: at.run.id }).where(key);
      } else {
        await octokit.rest.issues.updateComment({ owner: at.owner, repo: at.repo, comment_id: held.commentId, body: at.body });
        await db.update(githubComments).set({ runId: at.run.id }).where(key);
      }
    } finally {
      await db.update(githubComments).set({ lockUntil: null, updatedAt: sql`now()` }).where(key);
    }
  }

  async function logTail(runId: string, task: string, attempt: number): Promise<string[]> {
    const chunks = await db
      .select({ lines: logChunks.lines })
      .from(logChunks)
      .where(and(eq(logChunks.runId, runId), eq(logChunks.task, task), eq(logChunks.attempt, attempt)))
      .orderBy(desc(logChunks.id))
      .limit(LOG_TAIL_LINES);
    const lines: string[] = [];
    for (const chunk of chunks) {
      lines.unshift(...chunk.lines.map((l) => l.text));
      if (lines.length >= LOG_TAIL_LINES) break;
    }
    return lines.slice(-LOG_TAIL_LINES);
  }

  async function pipelineFileOf(source: string, pipeline: string, revisionId: number, owner: string, repo: string): Promise<{ path: string; line: number } | undefined> {
    if (!deps.repoPath) return undefined;
    const [def] = await db
      .select({ file: definitions.file, line: definitions.line })
      .from(definitions)
      .where(and(eq(definitions.source, source), eq(definitions.kind, 'Pipeline'), eq(definitions.name, pipeline), lte(definitions.addedRevisionId, revisionId), or(isNull(definitions.removedRevisionId), gt(definitions.removedRevisionId, revisionId))))
      .limit(1);
    if (!def) return undefined;
    const path = deps.repoPath(source, owner, repo, def.file);
    return path === undefined ? undefined : { path, line: Math.max(1, def.line) };
  }

  return { report };
}
