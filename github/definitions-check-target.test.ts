// Which GitHub events get a definitions check, on which commit, for which sources.
import { describe, expect, it } from 'vitest';
import { definitionsCheckTarget } from './definitions-check-target.js';

const HEAD = 'c'.repeat(40);
const sources = [
  { name: 'ops', type: 'git' as const, url: 'https://x-access-token:s3cret@github.com/Acme/Ops.git' },
  { name: 'ops-staging', type: 'git' as const, url: 'https://github.com/acme/ops/' },
  { name: 'other', type: 'git' as const, url: 'https://github.com/acme/other.git' },
  { name: 'local', type: 'local' as const },
];
const repository = { full_name: 'acme/ops', clone_url: 'https://github.com/acme/ops.git', html_url: 'https://github.com/acme/ops' };
const pull = (action: string, over: Record<string, unknown> = {}) => ({ source: 'github', type: 'pull_request', action, body: { action, number: 7, pull_request: { number: 7, head: { sha: HEAD }, base: { ref: 'main' } }, repository, installation: { id: 99 }, ...over } });

describe('definitionsCheckTarget', () => {
  it('a pull request opened, synchronized or reopened: its head, every source on the repository (credentials and .git aside)', () => {
    for (const action of ['opened', 'synchronize', 'reopened']) {
      expect(definitionsCheckTarget(pull(action), sources)).toEqual({ owner: 'acme', repo: 'ops', headSha: HEAD, sources: ['ops', 'ops-staging'], installationId: 99, branch: 'main', pullNumber: 7 });
    }
  });

  it('other pull request actions, other events, other repositories and other senders get none', () => {
    expect(definitionsCheckTarget(pull('closed'), sources)).toBeUndefined();
    expect(definitionsCheckTarget(pull('labeled'), sources)).toBeUndefined();
    expect(definitionsCheckTarget({ ...pull('opened'), type: 'issue_comment' }, sources)).toBeUndefined();
    expect(definitionsCheckTarget({ ...pull('opened'), source: 'webhook/github' }, sources)).toBeUndefined();
    expect(definitionsCheckTarget(pull('opened', { repository: { full_name: 'acme/web', clone_url: 'https://github.com/acme/web.git' } }), sources)).toBeUndefined();
    // Only the repository URL counts, not a look-alike name.
    expect(definitionsCheckTarget(pull('opened', { repository: { full_name: 'acme/ops', clone_url: 'https://gitlab.com/acme/ops.git' } }), sources)).toBeUndefined();
  });

  it('a push: its `after` commit on any branch; a deleted branch or a zero commit gets none', () => {
    const push = { source: 'github', type: 'push', body: { ref: 'refs/heads/feature', after: HEAD.toUpperCase(), deleted: false, repository } };
    expect(definitionsCheckTarget(push, sources)).toEqual({ owner: 'acme', repo: 'ops', headSha: HEAD, sources: ['ops', 'ops-staging'], branch: 'feature' });
    expect(definitionsCheckTarget({ ...push, body: { ...push.body, deleted: true } }, sources)).toBeUndefined();
    expect(definitionsCheckTarget({ ...push, body: { ...push.body, after: '0'.repeat(40) } }, sources)).toBeUndefined();
    expect(definitionsCheckTarget({ ...push, body: { ...push.body, after: 'abc' } }, sources)).toBeUndefined();
  });
});
