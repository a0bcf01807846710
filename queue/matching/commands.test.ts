// Slash-commands: every line of a new issue or review comment that starts with a command, as a whole word.
import { describe, expect, it } from 'vitest';
import { commandOf, commandsOf } from './commands.js';
import { createEvent } from './normalized-event.js';

function comment(body: unknown, type = 'issue_comment', action = 'created', source = 'github') {
  return createEvent({ id: '1', source, type, action, body: { comment: { body } }, receivedAt: new Date(0) });
}

describe('commandsOf', () => {
  it('reads each command and its arguments, line by line', () => {
    expect(commandsOf(comment('/deploy prod  --fast\nthanks!'))).toEqual([{ name: '/deploy', args: ['prod', '--fast'] }]);
    expect(commandsOf(comment('  /deploy\r\nmore'))).toEqual([{ name: '/deploy', args: [] }]);
    expect(commandsOf(comment('/retest', 'pull_request_review_comment'))).toEqual([{ name: '/retest', args: [] }]);
    expect(commandsOf(comment('LGTM\n/approve looks good\n/deploy staging'))).toEqual([
      { name: '/approve', args: ['looks', 'good'] },
      { name: '/deploy', args: ['staging'] },
    ]);
    expect(commandOf(comment('LGTM\n/approve\n/deploy'))).toEqual({ name: '/approve', args: [] });
  });

  it('takes the whole word: /deployment is not /deploy', () => {
    expect(commandOf(comment('/deployment now'))?.name).toBe('/deployment');
  });

  it('skips lines that do not start with a command, code blocks and quotes', () => {
    expect(commandsOf(comment('please /deploy'))).toEqual([]);
    expect(commandsOf(comment('/ deploy'))).toEqual([]);
    expect(commandsOf(comment('/usr/bin/env is a path'))).toEqual([]);
    expect(commandsOf(comment('```\n/deploy prod\n```\n> /deploy prod\nok'))).toEqual([]);
    expect(commandsOf(comment(''))).toEqual([]);
    expect(commandsOf(comment(42))).toEqual([]);
  });

  it('reads only new comments from GitHub', () => {
    expect(commandsOf(comment('/deploy', 'issue_comment', 'edited'))).toEqual([]);
    expect(commandsOf(comment('/deploy', 'issues', 'created'))).toEqual([]);
    expect(commandsOf(comment('/deploy', 'issue_comment', 'created', 'api'))).toEqual([]);
  });
});
