// The answer to the slash-commands of one new comment (the `answer-comment` job, after the event
// was matched): the built-in commands act (`/run`, `/retest`, `/approve`, `/reject`, `/cancel`,
// `/help`), the commands of triggers were already decided by matching (runs started, or refused
// for want of permission). Then the comment gets 👀 when a command was accepted, 😕 and one
// short reply when one was refused or unknown (with the closest command). Built-in commands need
// `builtinPermission` (default write), looked up on GitHub. Everything is done once per comment:
// runs by unique keys, reactions and the reply recorded in github_command_replies.
import { and, eq, isNull } from 'drizzle-orm';
import { toNormalizedEvent, commandsOf, type CommandCall, type StoredVerdict } from '../queue/index.js';
import { definitions, events, githubCommandReplies, type EventRow } from '../schemas/database/index.js';
import { suggestion } from '../schemas/index.js';
import { BUILTIN_COMMANDS, createBuiltinCommands, type BuiltinCommandsDeps, type Outcome } from './builtin-commands.js';
import type { GithubClient } from './github-client.js';
import type { IssueRef } from './issue-runs.js';

export type CommentCommandsDeps = BuiltinCommandsDeps;

export interface CommentCommands {
  /** Acts on and answers the comment of event `eventId`; nothing for an event that is not a person's new comment with commands. */
  answer(eventId: string): Promise<void>;
}

export function createCommentCommands(deps: CommentCommandsDeps): CommentCommands {
  const { db } = deps;
  const builtins = createBuiltinCommands(deps);

  async function answer(eventId: string): Promise<void> {
    const [row] = await db.select().from(events).where(eq(events.id, eventId));
    if (!row || row.status === 'received') return;
    const calls = commandsOf(toNormalizedEvent(row));
    const context = commentContext(row);
    if (calls.length === 0 || !context || context.botAuthor) return;
    const { ref, user, commentId, installationId, isPull } = context;
    const octokit = await deps.client.forRepo(ref.owner, ref.repo, installationId);
    if (isPull) {
      const { data } = await octokit.rest.pulls.get({ owner: ref.owner, repo: ref.repo, pull_number: ref.issue });
      ref.headSha = data.head.sha;
    }
    const triggerCommands = await activeTriggerCommands();
    const verdicts = (row.verdicts ?? []) as StoredVerdict[];
    const outcomes: Outcome[] = [];
    const seen = new Set<string>();
    for (const [index, call] of calls.entries()) {
      const key = [call.name, ...call.args].join(' ');
      if (seen.has(key)) continue;
      seen.add(key);
      if ((BUILTIN_COMMANDS as readonly string[]).includes(call.name) && !triggerCommands.has(call.name)) {
        outcomes.push(await builtins.run(call, index, { row, ref, user, isPull, ...(installationId === undefined ? {} : { installationId }), triggerCommands }));
      } else if (triggerCommands.has(call.name)) {
        outcomes.push(triggerOutcome(call, verdicts));
      } else {
        const known = [...BUILTIN_COMMANDS, ...triggerCommands.keys()];
        outcomes.push({ call, kind: 'unknown', text: `unknown command${suggestion(call.name, known) || `; try \`/help\``}` });
      }
    }
    await respond(row, octokit, ref, commentId, user, outcomes);
  }

  /** The commands of active triggers, with the permission each needs. */
  async function activeTriggerCommands(): Promise<Map<string, string | undefined>> {
    const rows = await db.select({ spec: definitions.spec }).from(definitions).where(and(eq(definitions.kind, 'Trigger'), isNull(definitions.removedRevisionId)));
    const out = new Map<string, string | undefined>();
    for (const { spec } of rows) {
      const s = spec as { command?: string; permission?: string };
      if (s.command) out.set(s.command, s.permission);
    }
    return out;
  }

  function triggerOutcome(call: CommandCall, verdicts: readonly StoredVerdict[]): Outcome {
    const mine = verdicts.filter((v) => v.command?.name === call.name);
    if (mine.some((v) => v.verdict === 'matched')) return { call, kind: 'accepted' };
    const refused = mine.find((v) => v.verdict === 'refused' || v.verdict === 'permission-unchecked');
    if (refused) return { call, kind: 'refused', text: refused.reason };
    const other = mine[0];
    return { call, kind: 'info', text: other ? `not run: ${other.reason}` : 'no trigger of this command applies here' };
  }
  async function respond(row: EventRow, octokit: Awaited<ReturnType<GithubClient['forRepo']>>, ref: IssueRef, commentId: number, user: string, outcomes: readonly Outcome[]): Promise<void> {
    await db.insert(githubCommandReplies).values({ eventId: row.id }).onConflictDoNothing();
    const [done] = await db.select().from(githubCommandReplies).where(eq(githubCommandReplies.eventId, row.id));
    const reactions = new Set(done?.reactions ?? []);
    const want: ('eyes' | 'confused')[] = [];
    if (outcomes.some((o) => o.kind === 'accepted')) want.push('eyes');
    if (outcomes.some((o) => o.kind === 'refused' || o.kind === 'unknown')) want.push('confused');
    for (const content of want) {
      if (reactions.has(content)) continue;
      await octokit.rest.reactions.createForIssueComment({ owner: ref.owner, repo: ref.repo, comment_id: commentId, content });
      reactions.add(content);
      await db.update(githubCommandReplies).set({ reactions: [...reactions] }).where(eq(githubCommandReplies.eventId, row.id));
    }
    const lines = outcomes.filter((o) => o.kind !== 'accepted').map((o) => `- \`${o.call.name}\`${o.kind === 'refused' ? ' refused' : ''}: ${o.text ?? ''}`);
    if (lines.length === 0 || done?.replyId) return;
    // No line of a reply starts with `/`: eventops' own comments never read as commands.
    const body = [`@${user}`, '', ...lines].join('\n');
    const { data } = await octokit.rest.issues.createComment({ owner: ref.owner, repo: ref.repo, issue_number: ref.issue, body });
    await db.update(githubCommandReplies).set({ replyId: data.id }).where(eq(githubCommandReplies.eventId, row.id));
  }

  return { answer };
}

/** The issue or PR, the commenter and the comment of a comment event; undefined for another event. */function commentContext(row: EventRow): { ref: IssueRef; user: string; commentId: number; installationId?: number; isPull: boolean; botAuthor: boolean } | undefined {
  const body = row.body as {
    repository?: { full_name?: string };
    issue?: { number?: number; pull_request?: unknown };
    pull_request?: { number?: number };
    comment?: { id?: number; user?: { login?: string; type?: string } };
    installation?: { id?: number };
  } | null;
  const [owner, repo] = body?.repository?.full_name?.split('/') ?? [];
  const issue = body?.issue?.number ?? body?.pull_request?.number;
  const user = body?.comment?.user?.login;
  const commentId = body?.comment?.id;
  if (!owner || !repo || typeof issue !== 'number' || !user || typeof commentId !== 'number') return undefined;
  return {
    ref: { owner, repo, issue },
    user,
    commentId,
    ...(typeof body?.installation?.id === 'number' ? { installationId: body.installation.id } : {}),
    isPull: body?.issue ? body.issue.pull_request !== undefined : true,
    botAuthor: body?.comment?.user?.type === 'Bot',
  };
}

/** Values of `/run key=value` as the pipeline's inputs declare them (numbers and booleans from their text). */
