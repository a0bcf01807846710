// Slash-commands: the first line of a new issue or review comment, command as a whole word.
import { describe, expect, it } from 'vitest';
import { commandOf } from './commands.js';
import { createEvent } from './normalized-event.js';

function comment(body: unknown, type = 'issue_comment', action = 'created', source = 'github') {
  return createEvent({ id: '1', source, type, action, body: { comment: { body } }, receivedAt: new Date(0) });
}

describe('commandOf', () => {
  it('reads the command and its arguments from the first line', () => {
    expect(commandOf(comment('/deploy prod  --fast\nthanks!'))).toEqual({ name: '/deploy', args: ['prod', '--fast'] });
    expect(commandOf(comment('  /deploy\r\nmore'))).toEqual({ name: '/deploy', args: [] });
    expect(commandOf(comment('/retest', 'pull_request_review_comment'))).toEqual({ name: '/retest', args: [] });
  });

  it('takes the whole word: /deployment is not /deploy', () => {
    expect(commandOf(comment('/deployment now'))?.name).toBe('/deployment');
  });

  it('finds nothing when the first line does not start with a command', () => {
    expect(commandOf(comment('please /deploy'))).toBeUndefined();
    expect(commandOf(comment('LGTM\n/deploy'))).toBeUndefined();
    expect(commandOf(comment('/ deploy'))).toBeUndefined();
    expect(commandOf(comment(''))).toBeUndefined();
    expect(commandOf(comment(42))).toBeUndefined();
  });

  it('reads only new comments from GitHub', () => {
    expect(commandOf(comment('/deploy', 'issue_comment', 'edited'))).toBeUndefined();
    expect(commandOf(comment('/deploy', 'issues', 'created'))).toBeUndefined();
    expect(commandOf(comment('/deploy', 'issue_comment', 'created', 'api'))).toBeUndefined();
  });
});
