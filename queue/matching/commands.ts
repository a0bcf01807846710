// Slash-commands ("issueops"): a new comment on an issue or pull request whose first line
// starts with `/word` calls the triggers whose `command` is that word. The words after it on
// the same line are its arguments; they are shown when explaining a match (expressions do not
// read them: docs/definitions.md §7 lists no such name; they stay in `event.body.comment.body`).
import type { NormalizedEvent } from './normalized-event.js';

export interface CommandCall {
  /** With its slash: `/deploy`. */
  name: string;
  args: string[];
}

/** GitHub events that carry a comment a person just wrote. */
const COMMENT_EVENTS: ReadonlySet<string> = new Set(['issue_comment', 'pull_request_review_comment']);

/** The slash-command of a new GitHub comment, or undefined when the event is not one or has none. */
export function commandOf(event: NormalizedEvent): CommandCall | undefined {
  const line = commandLine(event);
  if (line === undefined || !line.startsWith('/')) return undefined;
  const [name, ...args] = line.split(/\s+/).filter((w) => w !== '');
  return name === undefined || name === '/' ? undefined : { name, args };
}

/** Why `event` does not call `command`, for explanations; undefined when it does. */
export function commandMismatch(command: string, event: NormalizedEvent, call: CommandCall | undefined): string | undefined {
  if (call?.name === command) return undefined;
  if (call) return `listens to the command ${command}; the comment's command is ${call.name}`;
  const line = commandLine(event);
  if (line === undefined) return `listens to the command ${command}; the event is not a new comment on a GitHub issue or pull request (issue_comment or pull_request_review_comment, action created)`;
  return `listens to the command ${command}; the comment's first line does not start with a slash-command`;
}

/** The first line of a new comment, without leading blanks; undefined when the event is not a new comment. */
function commandLine(event: NormalizedEvent): string | undefined {
  if (event.source !== 'github' || !COMMENT_EVENTS.has(event.type) || event.action !== 'created') return undefined;
  const comment = (event.body as { comment?: { body?: unknown } } | null)?.comment?.body;
  if (typeof comment !== 'string') return undefined;
  const end = comment.indexOf('\n');
  return (end < 0 ? comment : comment.slice(0, end)).trim();
}
