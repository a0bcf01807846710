// The built-in comment commands: `/run <pipeline> key=value…`, `/retest`, `/approve`, `/reject`,
// `/cancel` and `/help`. Each needs the commenter to have `builtinPermission` (default write) on
// the repository, looked up on GitHub (`/help` needs none), and acts only on what belongs to this
// repository: its own sources' pipelines, and the runs of the issue or pull request commented on.
// Everything they start is keyed by the comment's event and line, so a retried job starts nothing twice.
import { randomUUID } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { resolveInputs, type CommandCall, type DefinitionsAtRevision } from '../queue/index.js';
import { definitions, runs, sources, type Db, type EventRow } from '../schemas/database/index.js';
import type { Pipeline } from '../schemas/index.js';
import type { GithubClient } from './github-client.js';
import { issueRuns, waitingApprovals, type IssueRef } from './issue-runs.js';
import { meetsPermission, type PermissionLookup } from './permissions.js';

export const BUILTIN_COMMANDS = ['/run', '/retest', '/approve', '/reject', '/cancel', '/help'] as const;

/** One command's outcome, for the reaction and the reply. */
export interface Outcome {
  call: CommandCall;
  kind: 'accepted' | 'refused' | 'unknown' | 'info';
  text?: string;
}

export interface BuiltinCommandsDeps {
  db: Db;
  client: GithubClient;
  permissions: PermissionLookup;
  definitions: DefinitionsAtRevision;
  /** Approvals and cancels go through the run engine. */
  engine: {
    decideApproval(runId: string, task: string, decision: 'approve' | 'reject', by: string, comment?: string): Promise<unknown>;
    stopRun(runId: string, stop: 'cancelled', why?: string): Promise<unknown>;
  };
  /** Starts runs just created (their start and report jobs). */
  startRuns(runIds: readonly string[]): Promise<void>;
  /** The sources whose git repository is `owner/repo`: the only ones `/run` reaches. */
  sourcesOfRepo(owner: string, repo: string): string[];
  /** The permission built-in commands need; default `write` (`/help` needs none). */
  builtinPermission?: string;
}

/** Where a command was written and by whom. */
export interface CommandPlace {
  row: EventRow;
  ref: IssueRef;
  user: string;
  isPull: boolean;
  installationId?: number;
  /** The commands of active triggers and the permission each needs (for `/help`). */
  triggerCommands: ReadonlyMap<string, string | undefined>;
}

export interface BuiltinCommands {
  /** Acts on built-in command `call`, line `index` of the comment. */
  run(call: CommandCall, index: number, at: CommandPlace): Promise<Outcome>;
}

export function createBuiltinCommands(deps: BuiltinCommandsDeps): BuiltinCommands {
  const { db } = deps;
  const builtinPermission = deps.builtinPermission ?? 'write';

  async function allowed(ref: IssueRef, user: string, need: string, installationId?: number): Promise<string | undefined> {
    const have = await deps.permissions.permissionOf(ref.owner, ref.repo, user, installationId);
    return meetsPermission(have, need) ? undefined : `needs ${need} permission on ${ref.owner}/${ref.repo}; @${user} has ${have}`;
  }

  async function builtin(call: CommandCall, index: number, { row, ref, user, isPull, installationId, triggerCommands }: CommandPlace): Promise<Outcome> {
    if (call.name === '/help') return { call, kind: 'info', text: helpText(triggerCommands) };
    const refused = await allowed(ref, user, builtinPermission, installationId);
    if (refused) return { call, kind: 'refused', text: refused };
    switch (call.name) {
      case '/run':
        return runCommand(call, index, row, ref);
      case '/retest':
        return retest(call, row, ref, isPull);
      case '/approve':
      case '/reject':
        return decide(call, ref, user);
      case '/cancel': {
        const active = await issueRuns(db, ref, ['pending', 'running']);
        if (active.length === 0) return { call, kind: 'info', text: 'nothing to cancel: no run of this issue or pull request is pending or running' };
        for (const run of active) await deps.engine.stopRun(run.id, 'cancelled', `cancelled by @${user} on GitHub`);
        return { call, kind: 'accepted' };
      }
      default:
        return { call, kind: 'unknown', text: 'unknown command' };
    }
  }

  /** `/run <pipeline> key=value…`: a run of the pipeline at its source's active revision. */
  async function runCommand(call: CommandCall, index: number, row: EventRow, ref: IssueRef): Promise<Outcome> {
    const [name, ...pairs] = call.args;
    if (!name) return { call, kind: 'refused', text: 'say which pipeline: `/run <pipeline> key=value …`' };
    const given: Record<string, string> = {};
    for (const pair of pairs) {
      const at = pair.indexOf('=');
      if (at <= 0) return { call, kind: 'refused', text: `\`${pair}\` is not key=value` };
      given[pair.slice(0, at)] = pair.slice(at + 1);
    }
    const found = await findPipeline(name, ref);
    if ('error' in found) return { call, kind: 'refused', text: found.error };
    const inputs = resolveInputs(found.pipeline, typedInputs(found.pipeline, given), {});
    if (!inputs.ok) return { call, kind: 'refused', text: inputs.reason };
    const id = randomUUID();
    // One run per comment line: the unique (event, source, trigger, position) makes a retried job create nothing new.
    const [inserted] = await db
      .insert(runs)
      .values({ id, source: found.source, trigger: 'command:/run', pipeline: name, pipelineIndex: index, revisionId: found.revisionId, eventId: row.id, inputs: inputs.inputs })
      .onConflictDoNothing()
      .returning({ id: runs.id });
    if (inserted) await deps.startRuns([inserted.id]);
    return { call, kind: 'accepted' };
  }

  async function findPipeline(name: string, ref: IssueRef): Promise<{ source: string; revisionId: number; pipeline: Pipeline } | { error: string }> {
    const rows = await db
      .select({ source: definitions.source, revisionId: sources.activeRevisionId })
      .from(definitions)
      .innerJoin(sources, eq(sources.name, definitions.source))
      .where(and(eq(definitions.kind, 'Pipeline'), eq(definitions.name, name), isNull(definitions.removedRevisionId)));
    // Each source is a namespace: a comment on a repository reaches only the sources kept in it.
    const own = deps.sourcesOfRepo(ref.owner, ref.repo);
    if (own.length === 0) return { error: `no eventops source is kept in ${ref.owner}/${ref.repo}, so \`/run\` has no pipelines here (triggers with a \`command\` still work)` };
    const pick = rows.filter((r) => own.includes(r.source));
    if (pick.length === 0) return { error: `no source of ${ref.owner}/${ref.repo} (${own.join(', ')}) defines a pipeline \`${name}\`` };
    if (pick.length > 1) return { error: `several sources of ${ref.owner}/${ref.repo} define a pipeline \`${name}\` (${pick.map((r) => r.source).join(', ')})` };
    const { source, revisionId } = pick[0]!;
    if (revisionId === null) return { error: `source ${source} has no active revision` };
    const pipeline = (await deps.definitions.get(source, revisionId)).pipelines.get(name);
    return pipeline ? { source, revisionId, pipeline } : { error: `no source defines a pipeline \`${name}\`` };
  }

  /** `/retest`: the failed runs on the pull request's head run again (the latest of each trigger and pipeline). */
  async function retest(call: CommandCall, row: EventRow, ref: IssueRef, isPull: boolean): Promise<Outcome> {
    if (!isPull || !ref.headSha) return { call, kind: 'refused', text: '`/retest` works on pull requests' };
    const onHead = await issueRuns(db, { owner: ref.owner, repo: ref.repo, issue: -1, headSha: ref.headSha });
    const latest = new Map<string, (typeof onHead)[number]>();
    for (const run of onHead) {
      const key = `${run.source}\n${run.trigger}\n${run.pipelineIndex}\n${run.pipeline}`;
      if (!latest.has(key)) latest.set(key, run);
    }
    const failed = [...latest.values()].filter((r) => ['failed', 'timed_out', 'cancelled'].includes(r.status));
    if (failed.length === 0) return { call, kind: 'info', text: `nothing to re-run: no run on ${ref.headSha.slice(0, 7)} failed` };
    const started: string[] = [];
    for (const run of failed) {
      const [inserted] = await db
        .insert(runs)
        .values({ id: randomUUID(), source: run.source, trigger: run.trigger, pipeline: run.pipeline, pipelineIndex: run.pipelineIndex, revisionId: run.revisionId, eventId: row.id, inputs: run.inputs })
        .onConflictDoNothing()
        .returning({ id: runs.id });
      if (inserted) started.push(inserted.id);
    }
    if (started.length > 0) await deps.startRuns(started);
    return { call, kind: 'accepted' };
  }

  /** `/approve [comment]`, `/reject [comment]`: every approval task waiting in this issue's runs that the commenter may decide. */
  async function decide(call: CommandCall, ref: IssueRef, user: string): Promise<Outcome> {
    const decision = call.name === '/approve' ? 'approve' : 'reject';
    const active = await issueRuns(db, ref, ['running']);
    const waiting = await waitingApprovals(db, active.map((r) => r.id));
    if (waiting.length === 0) return { call, kind: 'info', text: 'nothing here waits for an approval' };
    const notMine: string[] = [];
    let decided = 0;
    for (const task of waiting) {
      const run = active.find((r) => r.id === task.runId)!;
      const pipeline = (await deps.definitions.get(run.source, run.revisionId)).pipelines.get(run.pipeline);
      const approvers = pipeline?.spec.tasks.find((t) => t.name === task.name)?.approvers ?? [];
      if (approvers.length > 0 && !(await isApprover(ref, user, approvers))) {
        notMine.push(`${run.pipeline}/${task.name} (approvers: ${approvers.join(', ')})`);
        continue;
      }
      try {
        await deps.engine.decideApproval(run.id, task.name, decision, user, call.args.join(' ') || undefined);
        decided++;
      } catch (error) {
        // Decided meanwhile (another comment, the API): nothing left to do for this one.
        if ((error as { status?: number }).status !== 409) throw error;
      }
    }
    if (decided === 0 && notMine.length > 0) return { call, kind: 'refused', text: `@${user} is not an approver of ${notMine.join('; ')}` };
    return { call, kind: 'accepted' };
  }

  /** `@user` entries name users; `@org/team` entries teams (membership looked up). */
  async function isApprover(ref: IssueRef, user: string, approvers: readonly string[]): Promise<boolean> {
    const octokit = await deps.client.forRepo(ref.owner, ref.repo);
    for (const entry of approvers) {
      const name = entry.replace(/^@/, '');
      const slash = name.indexOf('/');
      if (slash < 0) {
        if (name.toLowerCase() === user.toLowerCase()) return true;
        continue;
      }
      try {
        const { data } = await octokit.rest.teams.getMembershipForUserInOrg({ org: name.slice(0, slash), team_slug: name.slice(slash + 1), username: user });
        if (data.state === 'active') return true;
      } catch (error) {
        if ((error as { status?: number }).status !== 404) throw error;
      }
    }
    return false;
  }

  return { run: builtin };
}

function typedInputs(pipeline: Pipeline, given: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(given)) {
    const type = pipeline.spec.inputs?.find((i) => i.name === key)?.type;
    if ((type === 'number' || type === 'integer') && text.trim() !== '' && Number.isFinite(Number(text))) out[key] = Number(text);
    else if (type === 'boolean' && (text === 'true' || text === 'false')) out[key] = text === 'true';
    else out[key] = text;
  }
  return out;
}

function helpText(triggerCommands: ReadonlyMap<string, string | undefined>): string {
  const own = [...triggerCommands].map(([name, permission]) => `\`${name}\`${permission ? ` (${permission})` : ''}`);
  return [
    'commands: `/run <pipeline> key=value…` starts a pipeline; `/retest` re-runs the failed runs of this pull request\'s head;',
    '`/approve [comment]` and `/reject [comment]` decide the approvals waiting here; `/cancel` cancels the runs of this issue or pull request;',
    `\`/help\` shows this.${own.length > 0 ? ` From triggers: ${own.join(', ')}.` : ''}`,
  ].join(' ');
}
