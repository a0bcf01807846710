// Slash-commands ("issueops"): in a new comment on an issue or pull request, every line that
// starts with `/word` is a command and calls the triggers whose `command` is that word (lines in
// ``` code blocks and quoted `>` lines are not commands: they show or cite, they do not ask). The
// words after it on the same line are its arguments; they are shown when explaining a match and
// given to built-in commands (expressions do not read them; they stay in `event.body.comment.body`).
import type { NormalizedEvent } from './normalized-event.js';

export interface CommandCall {
  /** With its slash: `/deploy`. */
  name: string;
  args: string[];
}

/** GitHub events that carry a comment a person just wrote. */
const COMMENT_EVENTS: ReadonlySet<string> = new Set(['issue_comment', 'pull_request_review_comment']);

/** The slash-commands of a new GitHub comment, in order (empty when the event is not one or has none). */
export function commandsOf(event: NormalizedEvent): CommandCall[] {
  const text = commentText(event);
  if (text === undefined) return [];
  const calls: CommandCall[] = [];
  let fenced = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('```') || line.startsWith('~~~')) {
      fenced = !fenced;
      continue;
    }
    if (fenced || !line.startsWith('/')) continue;
    const [name, ...args] = line.split(/\s+/).filter((w) => w !== '');
    if (name !== undefined && /^\/[A-Za-z][\w-]*$/.test(name)) calls.push({ name, args });
  }
  return calls;
}

/** The first slash-command of a new GitHub comment, or undefined. */
export function commandOf(event: NormalizedEvent): CommandCall | undefined {
  return commandsOf(event)[0];
}

/** Why `event` does not call `command`, for explanations; undefined when it does. */
export function commandMismatch(command: string, event: NormalizedEvent, calls: readonly CommandCall[]): string | undefined {
  if (calls.some((c) => c.name === command)) return undefined;
  if (calls.length > 0) return `listens to the command ${command}; the comment's commands are ${calls.map((c) => c.name).join(', ')}`;
  if (commentText(event) === undefined) return `listens to the command ${command}; the event is not a new comment on a GitHub issue or pull request (issue_comment or pull_request_review_comment, action created)`;
  return `listens to the command ${command}; no line of the comment starts with a slash-command`;
}

/** The text of a new comment; undefined when the event is not a new comment. */
function commentText(event: NormalizedEvent): string | undefined {
  if (event.source !== 'github' || !COMMENT_EVENTS.has(event.type) || event.action !== 'created') return undefined;
  const comment = (event.body as { comment?: { body?: unknown } } | null)?.comment?.body;
  return typeof comment === 'string' ? comment.replaceAll('\r\n', '\n') : undefined;
}
