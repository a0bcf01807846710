// The pure helpers of the run engine: which tasks an expression can read, which actuators may
// take a task, and how a task's commands reach the shell.
import { describe, expect, it } from 'vitest';
import type { Actuator, Pipeline, Task } from '../../schemas/index.js';
import { actuatorCandidates } from './pick-actuator.js';
import { referencedTasks } from './run-context.js';
import { taskExecution } from './task-execution.js';

const actuator = (name: string, spec: Actuator['spec']): Actuator => ({ apiVersion: 'eventops.dev/v1', kind: 'Actuator', metadata: { name }, spec });
const pipeline = (tags?: string[]): Pipeline => ({ apiVersion: 'eventops.dev/v1', kind: 'Pipeline', metadata: { name: 'p' }, spec: { ...(tags ? { actuatorSelector: { tags } } : {}), tasks: [{ name: 't' }] } });

describe('referencedTasks', () => {
  it('names the tasks read through tasks.<name>, hyphens included', () => {
    expect(referencedTasks(['${{ tasks.build.outputs.image }} ${{ tasks.docker-echo.status }}'])).toEqual(new Set(['build', 'docker-echo']));
    expect(referencedTasks(['echo hello'])).toEqual(new Set());
  });

  it('gives up (every task) when tasks is indexed or used whole', () => {
    expect(referencedTasks(['${{ tasks["build"].status }}'])).toBeUndefined();
    expect(referencedTasks(['${{ size(tasks) }}'])).toBeUndefined();
  });
});

describe('actuatorCandidates', () => {
  const task: Task = { name: 't' };
  it('takes the run source’s actuators of the task type with every tag', () => {
    const own = [actuator('a', { tags: ['linux', 'build'], concurrency: 2, local: {} }), actuator('b', { tags: ['linux'], local: {} }), actuator('c', { tags: ['linux', 'build'], ssh: { host: 'h', user: 'u' } })];
    const result = actuatorCandidates('ops', own, pipeline(['build']), task);
    expect(result).toEqual({ ok: true, choices: [{ key: 'ops/a', source: 'ops', actuator: own[0], concurrency: 2 }] });
  });

  it('falls back to other sources, then to the built-in local actuator, else says what is missing', () => {
    const shared = { source: 'platform', actuator: actuator('gpu', { tags: ['gpu'], local: {} }) };
    expect(actuatorCandidates('ops', [], pipeline(['gpu']), task, [shared])).toMatchObject({ ok: true, choices: [{ key: 'platform/gpu', source: 'platform', concurrency: Number.POSITIVE_INFINITY }] });
    expect(actuatorCandidates('ops', [], pipeline(), task)).toMatchObject({ ok: true, choices: [{ key: 'builtin/local' }] });
    expect(actuatorCandidates('ops', [actuator('x', { local: {} })], pipeline(['gpu']), task)).toEqual({ ok: false, reason: 'no local actuator has the tags [gpu] in source ops or any other source' });
  });
});

describe('taskExecution', () => {
  it('passes each expression in commands as an environment variable, never as script text', () => {
    const execution = taskExecution({
      runId: 'r1',
      task: { name: 't', commands: ['echo "${{ event.body.title }}"', 'echo plain'], env: { WHO: '${{ inputs.who }}', TOKEN: { secret: 'T' } }, timeout: '10s' },
      attempt: 1,
      context: { inputs: { who: 'ops' }, event: { body: { title: '$(touch /tmp/x)' } } },
      secret: () => 'hunter2',
      runTimeLeftMs: 4_000,
    });
    expect(execution.commands).toEqual(['echo "${EVENTOPS_EXPR_1}"', 'echo plain']);
    expect(execution.env).toEqual({ WHO: 'ops', TOKEN: 'hunter2', EVENTOPS_EXPR_1: '$(touch /tmp/x)' });
    expect(execution.secrets).toEqual(['hunter2']);
    expect(execution.timeoutMs).toBe(4_000);
  });

  it('turns resources into cores and bytes', () => {
    const execution = taskExecution({ runId: 'r1', task: { name: 't', type: 'docker', image: 'busybox', commands: ['true'], resources: { cpu: '500m', memory: '256Mi' } }, attempt: 1, context: {}, secret: () => '' });
    expect(execution.resources).toEqual({ cpu: 0.5, memoryBytes: 256 * 1024 * 1024 });
    expect(taskExecution({ runId: 'r1', task: { name: 't', commands: ['true'] }, attempt: 1, context: {}, secret: () => '' }).resources).toBeUndefined();
  });

  it('names the field of an expression that fails', () => {
    expect(() => taskExecution({ runId: 'r1', task: { name: 't', commands: ['echo ${{ inputs.missing }}'] }, attempt: 1, context: { inputs: {} }, secret: () => '' })).toThrow(/commands\[0\]/);
  });
});
