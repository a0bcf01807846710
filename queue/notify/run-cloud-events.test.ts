// The CloudEvents of one run transition: which changes make events, in which order, with what
// attributes and data (pure; rows built here stand for what the engine holds).
import { describe, expect, it } from 'vitest';
import type { RunRow, TaskRunRow } from '../../schemas/database/index.js';
import { runCloudEvents } from './run-cloud-events.js';

const now = new Date('2026-12-05T09:00:00.000Z');

function run(over: Partial<RunRow> = {}): RunRow {
  return {
    id: 'r1', source: 'ops', trigger: 'on-push', pipeline: 'deploy', pipelineIndex: 0, revisionId: 3, eventId: 'e1', inputs: {}, dedupeKey: null, status: 'running',
    createdAt: now, parentRunId: null, parentTask: null, concurrencyGroup: null, contexts: {}, outputs: {}, error: null, stopRequested: null,
    startedAt: now, finishedAt: null, deadlineAt: null, updatedAt: now, version: 'v', ...over,
  };
}

function task(name: string, position: number, over: Partial<TaskRunRow> = {}): TaskRunRow {
  return {
    runId: 'r1', name, phase: 'tasks', position, type: 'local', status: 'pending', attempt: 0, actuator: null, exitCode: null, outputs: {}, error: null, skipReason: null,
    childRunId: null, notBefore: null, leaseUntil: null, worker: null, decidedBy: null, decision: null, attempts: [], startedAt: null, finishedAt: null, updatedAt: now, ...over,
  };
}

const tasks = (...rows: TaskRunRow[]) => new Map(rows.map((r) => [r.name, r]));
const before = (status: string, states: Record<string, [string, number]>) => ({ status, tasks: new Map(Object.entries(states).map(([n, [s, a]]) => [n, { status: s, attempt: a }])) });

describe('runCloudEvents', () => {
  it('starts with the run, then task changes in pipeline order (finally last), never unchanged tasks', () => {
    const out = runCloudEvents(
      { run: run(), revision: 'abc123', before: before('pending', { b: ['pending', 0], a: ['pending', 0], c: ['pending', 0], f: ['pending', 0] }), tasks: tasks(task('f', 0, { phase: 'finally' }), task('b', 1, { status: 'queued', attempt: 1 }), task('a', 0, { status: 'queued', attempt: 1 }), task('c', 2)) },
      'ops.example.com',
      now,
    );
    expect(out.map((e) => [e.on, e.subject, e.event.type, e.event.subject])).toEqual([
      ['started', 'deploy.r1.started', 'dev.eventops.run.started', 'run'],
      ['task.queued', 'deploy.r1.tasks.a.queued', 'dev.eventops.task.queued', 'tasks/a'],
      ['task.queued', 'deploy.r1.tasks.b.queued', 'dev.eventops.task.queued', 'tasks/b'],
    ]);
    expect(out[0]!.event).toMatchObject({ specversion: '1.0', source: 'eventops/ops.example.com/runs/r1', time: '2026-12-05T09:00:00.000Z', datacontenttype: 'application/json', data: { run: { id: 'r1', pipeline: 'deploy', status: 'running', revision: 'abc123' } } });
  });

  it('ends with the run and every task; a retried attempt is queued again; a failed one is not sent while it retries', () => {
    const ended = runCloudEvents(
      { run: run({ status: 'failed', error: 'task a failed', outputs: { x: 1 } }), revision: 'abc', before: before('running', { a: ['running', 2], b: ['pending', 0] }), tasks: tasks(task('a', 0, { status: 'failed', attempt: 2, exitCode: 3, error: 'exit 3' }), task('b', 1, { status: 'skipped', skipReason: 'a failed' })) },
      'local',
      now,
    );
    expect(ended.map((e) => e.on)).toEqual(['task.failed', 'task.skipped', 'failed']);
    expect(ended[2]!.event.data).toEqual({
      run: { id: 'r1', pipeline: 'deploy', source: 'ops', trigger: 'on-push', eventId: 'e1', status: 'failed', revision: 'abc', error: 'task a failed', outputs: { x: 1 } },
      tasks: [
        { name: 'a', phase: 'tasks', type: 'local', status: 'failed', attempt: 2, exitCode: 3, error: 'exit 3' },
        { name: 'b', phase: 'tasks', type: 'local', status: 'skipped', attempt: 0, skipReason: 'a failed' },
      ],
    });
    const retried = runCloudEvents({ run: run(), revision: 'abc', before: before('running', { a: ['queued', 1] }), tasks: tasks(task('a', 0, { status: 'queued', attempt: 2 })) }, 'local', now);
    expect(retried.map((e) => e.on)).toEqual(['task.queued']);
    expect(runCloudEvents({ run: run(), revision: 'abc', before: before('running', { a: ['queued', 1] }), tasks: tasks(task('a', 0, { status: 'queued', attempt: 1 })) }, 'local', now)).toEqual([]);
  });

  it('a run cancelled before it started has no started event', () => {
    const out = runCloudEvents({ run: run({ status: 'cancelled', startedAt: null }), revision: 'abc', before: before('pending', {}), tasks: tasks() }, 'local', now);
    expect(out.map((e) => e.event.type)).toEqual(['dev.eventops.run.cancelled']);
  });
});
