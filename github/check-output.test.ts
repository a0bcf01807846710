// The pure parts of check runs: where a run's report goes, what its check run says, GitHub's limits.
import { describe, expect, it } from 'vitest';
import { annotationBatches, checkOutput, checkState, CHECK_TEXT_LIMIT } from './check-output.js';
import { reportTarget } from './report-target.js';

const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const repository = { full_name: 'acme/ops' };

describe('reportTarget', () => {
  it('reads the commit of a push, a pull request, a check suite; the PR of a PR comment', () => {
    expect(reportTarget({ source: 'github', type: 'push', body: { after: sha, repository, installation: { id: 9 } } })).toEqual({ owner: 'acme', repo: 'ops', headSha: sha, installationId: 9 });
    expect(reportTarget({ source: 'github', type: 'pull_request', body: { pull_request: { number: 7, head: { sha } }, repository } })).toEqual({ owner: 'acme', repo: 'ops', headSha: sha, issueNumber: 7, isPull: true });
    expect(reportTarget({ source: 'github', type: 'check_suite', body: { check_suite: { head_sha: sha }, repository } })).toEqual({ owner: 'acme', repo: 'ops', headSha: sha });
    expect(reportTarget({ source: 'github', type: 'issue_comment', body: { issue: { number: 4, pull_request: {} }, repository } })).toEqual({ owner: 'acme', repo: 'ops', issueNumber: 4, isPull: true });
  });
  it('has nothing to report on for a branch deletion or an event not from GitHub; a comment on an issue has no commit', () => {
    expect(reportTarget({ source: 'github', type: 'push', body: { after: '0'.repeat(40), repository } })).toBeUndefined();
    expect(reportTarget({ source: 'github', type: 'issue_comment', body: { issue: { number: 4 }, repository } })).toEqual({ owner: 'acme', repo: 'ops', issueNumber: 4, isPull: false });
    expect(reportTarget({ source: 'api', type: 'push', body: { after: sha, repository } })).toBeUndefined();
    expect(reportTarget({ source: 'github', type: 'push', body: { after: sha } })).toBeUndefined();
  });
});

describe('checkOutput', () => {
  const run = { id: 'r1', pipeline: 'ci', status: 'failed', error: 'task test failed', revision: sha, source: 'ops' };
  const at = (s: number) => new Date(Date.parse('2026-12-05T10:00:00Z') + s * 1000);
  const tasks = [
    { name: 'build', status: 'succeeded', attempt: 1, startedAt: at(0), finishedAt: at(75), error: null },
    { name: 'test|unit', status: 'failed', attempt: 2, startedAt: at(75), finishedAt: at(76.5), error: 'exit code 2' },
    { name: 'deploy', status: 'skipped', attempt: 0, startedAt: null, finishedAt: null, error: null },
  ];

  it('maps run states to check states', () => {
    expect(checkState('pending')).toEqual({ status: 'queued' });
    expect(checkState('running')).toEqual({ status: 'in_progress' });
    expect(checkState('timed_out')).toEqual({ status: 'completed', conclusion: 'timed_out' });
  });

  it('a table of tasks with states, attempts and durations; the failed task annotated on the pipeline file', () => {
    const out = checkOutput({ run, tasks, pipelineFile: { path: 'eventops/ci.yaml', line: 3 }, runUrl: 'https://e.test/runs/r1', now: 0 });
    expect(out.title).toBe('ci: failed (1 succeeded, 1 failed, 1 skipped)');
    expect(out.summary).toContain('| build | ✅ succeeded | 1 | 1 min 15 s |');
    expect(out.summary).toContain('| test\\|unit | ❌ failed | 2 | 1.5 s |');
    expect(out.summary).toContain('| deploy | ⏭️ skipped | 0 | – |');
    expect(out.summary).toContain('[details](https://e.test/runs/r1)');
    expect(out.annotations).toEqual([{ path: 'eventops/ci.yaml', start_line: 3, end_line: 3, annotation_level: 'failure', title: 'task test|unit failed', message: 'exit code 2' }]);
  });

  it('keeps the end of a long log within GitHub\'s 65,535 characters', () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
    const out = checkOutput({ run, tasks, failedLog: { task: 'test', lines }, now: 0 });
    expect(out.text!.length).toBeLessThanOrEqual(CHECK_TEXT_LIMIT);
    expect(out.text).toContain(`line 19999 ${'x'.repeat(20)}`);
    expect(out.text).not.toContain('line 0 ');
  });

  it('sends annotations 50 per request', () => {
    expect(annotationBatches(Array.from({ length: 120 }, (_, i) => i)).map((b) => b.length)).toEqual([50, 50, 20]);
    expect(annotationBatches([])).toEqual([[]]);
  });
});
