// The `check-definitions` job: the check run `eventops/definitions` on the head commit of a push
// or pull request to a configured source's repository. The commit's files are validated as the
// reconciler would (nothing applied), and the summary plans the change against each source's
// active revision. The check run is created `in_progress` once per commit (its id kept in
// `github_definition_checks`), then PATCHed: annotations 50 per request, counted as they are sent
// so a retry sends only the rest, then `completed`. A later event for the same commit (a push and
// the PR's `synchronize`) updates that check run when the report changed, never makes a second.
import { createHash } from 'node:crypto';
import { and, eq, gt, isNull, lte, or, sql } from 'drizzle-orm';
import type { SourceConfig } from '../config/index.js';
import { SourceError, type DefinitionRecord, type RevisionChecker } from '../reconciler/index.js';
import { definitions, events, githubDefinitionChecks, revisions, sources, type Db, type GithubDefinitionCheckRow } from '../schemas/database/index.js';
import { annotationBatches } from './check-output.js';
import { definitionsCheckOutput, type SourceCheckResult } from './definitions-check-output.js';
import { definitionsCheckTarget, type DefinitionsCheckTarget } from './definitions-check-target.js';
import { planDefinitions, type PlanDefinition } from './definitions-plan.js';
import type { GithubClient } from './github-client.js';

/** The check run's name on GitHub. */
export const DEFINITIONS_CHECK_NAME = 'eventops/definitions';

export interface DefinitionsCheckDeps {
  db: Db;
  client: GithubClient;
  /** The configured sources (only git ones are ever checked). */
  sources: readonly SourceConfig[];
  checker: Pick<RevisionChecker, 'check'>;
  /** How long one job may hold a commit's lease; default 5 min. */
  leaseMs?: number;
  now?: () => number;
}

export interface DefinitionsCheckRunOptions {
  /** The job's last attempt: a failure to read the commit then completes the check as `neutral` instead of throwing. */
  final?: boolean;
  signal?: AbortSignal;
}

export interface DefinitionsCheck {
  /** The check this event gets (repository, commit, sources), or undefined. */
  targetOf(event: { source: string; type: string; action?: string | null; body: unknown }): DefinitionsCheckTarget | undefined;
  /** Brings the check run of the event's commit up to date; does nothing for an event that gets no check. */
  run(eventId: string, options?: DefinitionsCheckRunOptions): Promise<void>;
}

/** Another job is writing this commit's check run: a transient error, the job is retried. */
export class DefinitionsCheckBusyError extends Error {
  readonly kind = 'transient';
  readonly reason = 'ReportBusy';
}

export function createDefinitionsCheck(deps: DefinitionsCheckDeps): DefinitionsCheck {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const leaseMs = deps.leaseMs ?? 5 * 60_000;
  const targetOf: DefinitionsCheck['targetOf'] = (event) => definitionsCheckTarget(event, deps.sources);

  async function run(eventId: string, options: DefinitionsCheckRunOptions = {}): Promise<void> {
    const [event] = await db.select().from(events).where(eq(events.id, eventId));
    if (!event) return;
    const target = targetOf(event);
    if (!target) return;
    const key = { owner: target.owner.toLowerCase(), repo: target.repo.toLowerCase(), headSha: target.headSha };
    const row = and(eq(githubDefinitionChecks.owner, key.owner), eq(githubDefinitionChecks.repo, key.repo), eq(githubDefinitionChecks.headSha, key.headSha));
    await db
      .insert(githubDefinitionChecks)
      .values({ ...key, installationId: target.installationId ?? null })
      .onConflictDoNothing();
    const [held] = await db
      .update(githubDefinitionChecks)
      .set({ lockUntil: sql`now() + ${leaseMs}::double precision * interval '1 millisecond'` })
      .where(and(row, or(isNull(githubDefinitionChecks.lockUntil), lte(githubDefinitionChecks.lockUntil, sql`now()`))))
      .returning();
    if (!held) throw new DefinitionsCheckBusyError(`another job is writing the ${DEFINITIONS_CHECK_NAME} check run of ${target.owner}/${target.repo}@${target.headSha}; this one is retried`);
    try {
      await write(held, target, options);
    } finally {
      await db.update(githubDefinitionChecks).set({ lockUntil: null, updatedAt: sql`now()` }).where(row);
    }
  }

  async function write(held: GithubDefinitionCheckRow, target: DefinitionsCheckTarget, options: DefinitionsCheckRunOptions): Promise<void> {
    const { owner, repo, headSha } = target;
    const row = and(eq(githubDefinitionChecks.owner, held.owner), eq(githubDefinitionChecks.repo, held.repo), eq(githubDefinitionChecks.headSha, held.headSha));
    const octokit = await deps.client.forRepo(owner, repo, held.installationId ?? target.installationId);
    let checkRunId = held.checkRunId;
    if (checkRunId === null) {
      const { data } = await octokit.rest.checks.create({
        owner,
        repo,
        name: DEFINITIONS_CHECK_NAME,
        head_sha: headSha,
        status: 'in_progress',
        started_at: new Date(now()).toISOString(),
        external_id: `definitions:${headSha}`,
        output: { title: 'Checking the definitions…', summary: `Validating the definitions of ${target.sources.map((s) => `\`${s}\``).join(', ')} at \`${headSha.slice(0, 12)}\`.` },
      });
      checkRunId = data.id;
      // Stored at once: whatever fails next, later jobs PATCH this check run.
      await db.update(githubDefinitionChecks).set({ checkRunId }).where(row);
    }

    let results: SourceCheckResult[];
    try {
      results = await checkSources(target, options);
    } catch (error) {
      // Not the last attempt, or the check run already shows a complete report: try again later / keep it.
      if (!options.final || held.reportedKey !== null) throw error;
      const message = error instanceof Error ? error.message : String(error);
      results = target.sources.map((source) => ({ source, dir: dirOf(source), kind: 'failed', reason: error instanceof SourceError ? error.reason : 'CheckFailed', message, blocking: false }));
    }
    const output = definitionsCheckOutput({ sha: headSha, results });
    const reportedKey = createHash('sha256').update(JSON.stringify([output.conclusion, output.title, output.summary, output.annotations.length])).digest('hex');
    if (held.reportedKey === reportedKey) return;

    // GitHub appends annotations: those sent before (by an interrupted attempt, or an earlier
    // event for this commit) are not sent again.
    let sent = Math.min(held.annotationsSent, output.annotations.length);
    const text = { title: output.title, summary: output.summary };
    const pending = output.annotations.slice(sent);
    if (pending.length > 0) {
      for (const batch of annotationBatches(pending)) {
        await octokit.rest.checks.update({ owner, repo, check_run_id: checkRunId, output: { ...text, annotations: batch } });
        sent += batch.length;
        await db.update(githubDefinitionChecks).set({ annotationsSent: sent }).where(row);
      }
    }
    await octokit.rest.checks.update({ owner, repo, check_run_id: checkRunId, status: 'completed', conclusion: output.conclusion, completed_at: new Date(now()).toISOString(), output: text });
    await db.update(githubDefinitionChecks).set({ reportedKey }).where(row);
  }

  /** Each source's findings at the commit and, when valid, its plan against its active revision. */
  async function checkSources(target: DefinitionsCheckTarget, options: DefinitionsCheckRunOptions): Promise<SourceCheckResult[]> {
    const results: SourceCheckResult[] = [];
    for (const name of target.sources) {
      const config = deps.sources.find((s) => s.name === name);
      if (!config) continue;
      let checked;
      try {
        checked = await deps.checker.check(config, target.headSha, options.signal);
      } catch (error) {
        if (!(error instanceof SourceError) || (error.kind === 'transient' && !options.final)) throw error;
        // A folder that is gone breaks the source if merged; other failures are eventops' to fix (a token, the URL).
        results.push({ source: name, dir: config.dir, kind: 'failed', reason: error.reason, message: error.message, blocking: error.reason === 'DirNotFound' });
        continue;
      }
      const active = checked.errors === 0 ? await activeDefinitions(name) : await activeCommit(name);
      results.push({
        source: name,
        dir: config.dir,
        kind: 'checked',
        files: checked.files,
        definitions: checked.definitions.length,
        diagnostics: checked.diagnostics,
        errors: checked.errors,
        warnings: checked.warnings,
        ...(active ? { active: { commit: active.commit } } : {}),
        ...(checked.errors === 0 ? { plan: planDefinitions(active && 'rows' in active ? active.rows : [], checked.definitions.map(planned)) } : {}),
      });
    }
    return results;
  }

  async function activeCommit(source: string): Promise<{ id: number; commit: string } | undefined> {
    const [active] = await db.select({ id: revisions.id, commit: revisions.commit }).from(sources).innerJoin(revisions, eq(revisions.id, sources.activeRevisionId)).where(eq(sources.name, source));
    return active;
  }

  /** The definitions of the source's active revision, read by revision so a reconcile meanwhile cannot mix two sets. */
  async function activeDefinitions(source: string): Promise<{ commit: string; rows: PlanDefinition[] } | undefined> {
    const active = await activeCommit(source);
    if (!active) return undefined;
    const rows = await db
      .select({ kind: definitions.kind, name: definitions.name, file: definitions.file, line: definitions.line, metadata: definitions.metadata, spec: definitions.spec, contentHash: definitions.contentHash })
      .from(definitions)
      .where(and(eq(definitions.source, source), lte(definitions.addedRevisionId, active.id), or(isNull(definitions.removedRevisionId), gt(definitions.removedRevisionId, active.id))));
    return { commit: active.commit, rows };
  }

  function dirOf(source: string): string {
    return deps.sources.find((s) => s.name === source)?.dir ?? '';
  }

  return { targetOf, run };
}

/** A definition as the reconciler would store it, through JSON as the database keeps it. */
function planned(record: DefinitionRecord): PlanDefinition {
  const json = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
  return { kind: record.kind, name: record.name, file: record.file, line: record.line, metadata: json(record.metadata), spec: json(record.spec), contentHash: record.contentHash };
}
