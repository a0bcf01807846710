// The DAG transitions as pure functions: what starts, what is skipped and why, when `finally`
// runs, and what the run ends as.
import { describe, expect, it } from 'vitest';
import { decide, type PlanTask, type Stop, type TaskState, type TaskStatus } from './dag.js';

const plan: PlanTask[] = [
  { name: 'build', phase: 'tasks', needs: [] },
  { name: 'test', phase: 'tasks', needs: ['build'], if: 'inputs.tests' },
  { name: 'lint', phase: 'tasks', needs: ['build'] },
  { name: 'deploy', phase: 'tasks', needs: ['test', 'lint'] },
  { name: 'report', phase: 'finally', needs: [] },
];

const states = (s: Record<string, TaskStatus | TaskState>) => new Map<string, TaskState>(plan.map((t) => [t.name, typeof s[t.name] === 'object' ? (s[t.name] as TaskState) : { status: (s[t.name] as TaskStatus | undefined) ?? 'pending' }]));
const run = (s: Record<string, TaskStatus | TaskState>, options: { stop?: Stop; tests?: boolean } = {}) => decide(plan, states(s), options.stop ?? null, () => options.tests ?? true);

describe('decide', () => {
  it('starts the tasks without needs first, and nothing of finally', () => {
    expect(run({})).toEqual([{ kind: 'start', task: 'build' }]);
  });

  it('starts every task whose needs all succeeded, once', () => {
    expect(run({ build: 'succeeded' })).toEqual([
      { kind: 'start', task: 'test' },
      { kind: 'start', task: 'lint' },
    ]);
    // The join starts only when both of its needs have ended well.
    expect(run({ build: 'succeeded', test: 'succeeded', lint: 'running' })).toEqual([]);
    expect(run({ build: 'succeeded', test: 'succeeded', lint: 'succeeded' })).toEqual([{ kind: 'start', task: 'deploy' }]);
  });

  it('skips a task whose if is false, and still starts what needs it', () => {
    expect(run({ build: 'succeeded' }, { tests: false })).toEqual([
      { kind: 'skip', task: 'test', reason: 'condition', message: 'skipped: if inputs.tests is false' },
      { kind: 'start', task: 'lint' },
    ]);
    expect(run({ build: 'succeeded', test: { status: 'skipped', skipReason: 'condition' }, lint: 'succeeded' })).toEqual([{ kind: 'start', task: 'deploy' }]);
  });

  it('on a failure skips the dependents, runs finally, and fails the run', () => {
    const afterFailure = run({ build: 'failed' });
    expect(afterFailure).toEqual([
      { kind: 'skip', task: 'test', reason: 'dependency', message: 'skipped: build failed' },
      { kind: 'skip', task: 'lint', reason: 'dependency', message: 'skipped: build failed' },
      { kind: 'skip', task: 'deploy', reason: 'dependency', message: 'skipped: test was skipped' },
      { kind: 'start', task: 'report' },
    ]);
    expect(run({ build: 'failed', test: { status: 'skipped', skipReason: 'dependency' }, lint: { status: 'skipped', skipReason: 'dependency' }, deploy: { status: 'skipped', skipReason: 'dependency' }, report: 'succeeded' })).toEqual([
      { kind: 'finish', status: 'failed', error: 'failed: build (failed)' },
    ]);
  });

  it('fails a task whose if cannot be evaluated, with the reason', () => {
    const decisions = decide(plan, states({ build: 'succeeded' }), null, (task) => {
      if (task.name === 'test') throw new Error('no such key: tests');
      return true;
    });
    expect(decisions[0]).toEqual({ kind: 'fail', task: 'test', error: 'if: no such key: tests' });
  });

  it('on a stop cancels what has not started, lets finally run, and ends as the stop', () => {
    expect(run({ build: 'running' }, { stop: 'cancelled' })).toEqual([
      { kind: 'cancel', task: 'test', message: 'the run was cancelled before this task started' },
      { kind: 'cancel', task: 'lint', message: 'the run was cancelled before this task started' },
      { kind: 'cancel', task: 'deploy', message: 'the run was cancelled before this task started' },
    ]);
    expect(run({ build: 'cancelled', test: 'cancelled', lint: 'cancelled', deploy: 'cancelled' }, { stop: 'timed_out' })).toEqual([{ kind: 'start', task: 'report' }]);
    expect(run({ build: 'cancelled', test: 'cancelled', lint: 'cancelled', deploy: 'cancelled', report: 'succeeded' }, { stop: 'timed_out' })).toEqual([{ kind: 'finish', status: 'timed_out', error: 'the run timed out' }]);
  });

  it('succeeds when every task ended well', () => {
    expect(run({ build: 'succeeded', test: 'succeeded', lint: 'succeeded', deploy: 'succeeded', report: 'succeeded' })).toEqual([{ kind: 'finish', status: 'succeeded' }]);
  });

  it('fails the run when only a finally task failed', () => {
    expect(run({ build: 'succeeded', test: 'succeeded', lint: 'succeeded', deploy: 'succeeded', report: 'failed' })).toEqual([{ kind: 'finish', status: 'failed', error: 'failed: report (failed)' }]);
  });
});
