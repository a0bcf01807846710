// matchEvent end to end over a small index: each verdict with its reason, planned runs pinned
// to their trigger's source and revision, a trigger whose inputs fail recorded while the
// others still fire, slash-commands with their permission, dedupe keys.
import { describe, expect, it } from 'vitest';
import type { Pipeline, Trigger } from '../../schemas/index.js';
import { createEvent } from './normalized-event.js';
import { matchEvent, type PipelineLookup } from './match-event.js';
import { buildTriggerIndex } from './trigger-index.js';

function trigger(name: string, spec: Partial<Trigger['spec']>): Trigger {
  return { apiVersion: 'eventops.dev/v1', kind: 'Trigger', metadata: { name }, spec: { pipelines: [{ name: 'deploy' }], ...spec } };
}

function pipeline(name: string, inputs: NonNullable<Pipeline['spec']['inputs']>): Pipeline {
  return { apiVersion: 'eventops.dev/v1', kind: 'Pipeline', metadata: { name }, spec: { inputs, tasks: [{ name: 't', commands: ['true'] }] } };
}

// Two sources define a pipeline named `deploy`, with different inputs.
const PIPELINES: Record<string, Record<string, Pipeline>> = {
  ops: { deploy: pipeline('deploy', [{ name: 'env', enum: ['staging', 'prod'], default: 'staging' }, { name: 'ref', required: true }]) },
  'team-b': { deploy: pipeline('deploy', [{ name: 'target', required: true }]) },
};
const calls: [string, string, string | undefined][] = [];
const lookup: PipelineLookup = (source, name, revision) => {
  calls.push([source, name, revision]);
  return PIPELINES[source]?.[name];
};

const index = buildTriggerIndex([
  { source: 'ops', revision: 'r-ops-1', trigger: trigger('on-request', { event: { source: 'api', type: 'deploy.requested' }, filters: [{ path: 'labels.env', value: ['staging', 'prod'] }], pipelines: [{ name: 'deploy', inputs: { env: '${{ event.labels.env }}', ref: '${{ event.body.sha }}' } }], dedupe: "${{ event.labels.env + '/' + event.body.sha }}", dedupeWindow: '1h' }) },
  { source: 'ops', revision: 'r-ops-1', trigger: trigger('prod-only', { event: { source: 'api', type: 'deploy.requested' }, filters: [{ path: 'labels.env', value: 'prod' }], pipelines: [{ name: 'deploy', inputs: { ref: 'x' } }] }) },
  { source: 'ops', revision: 'r-ops-1', trigger: trigger('bad-inputs', { event: { source: 'api', type: 'deploy.requested' }, pipelines: [{ name: 'deploy', inputs: { env: '${{ event.body.region }}', ref: 'main' } }] }) },
  { source: 'team-b', revision: 'r-b-9', trigger: trigger('on-request', { event: { source: 'api', type: 'deploy.requested' }, pipelines: [{ name: 'deploy', inputs: { target: '${{ event.body.service }}' } }] }) },
  { source: 'ops', revision: 'r-ops-1', trigger: trigger('on-push', { event: { source: 'github', type: 'push' } }) },
  { source: 'ops', revision: 'r-ops-1', trigger: trigger('deploy-command', { command: '/deploy', permission: 'write', filters: [{ expr: 'has(body.issue.pull_request)' }], pipelines: [{ name: 'deploy', inputs: { ref: 'refs/pull/${{ event.body.issue.number }}/head' } }] }) },
  { source: 'ops', revision: 'r-ops-1', trigger: trigger('either', { event: { source: 'nats', subject: 'ops.clusters.*.status' }, filtersOperator: 'or', filters: [{ path: 'labels.severity', value: ['critical'] }, { path: 'subject', value: ['ops.clusters.prod-'], match: 'prefix' }], pipelines: [{ name: 'deploy', inputs: { ref: '${{ event.subject }}' } }] }) },
]);

const at = new Date('2026-03-01T10:00:00Z');
const request = createEvent({ id: 'e-1', source: 'api', type: 'deploy.requested', labels: { env: 'staging' }, body: { sha: '3f9c2e1', service: 'payments', region: 'eu' }, receivedAt: at });

describe('matchEvent', () => {
  it('gives each candidate a verdict and plans the runs of those that matched', () => {
    calls.length = 0;
    const { verdicts, runs } = matchEvent(index, request, lookup);
    // prod-only is keyed by its exact filter on labels.env: the index sets it aside unseen.
    expect(verdicts.map((v) => [v.source, v.trigger, v.verdict, v.reason])).toEqual([
      ['ops', 'on-request', 'matched', 'filters[0] labels.env: "staging" is one of ["staging", "prod"]'],
      ['ops', 'bad-inputs', 'inputs-failed', 'pipeline deploy: input env: "eu" is not one of ["staging", "prod"]'],
      ['team-b', 'on-request', 'matched', 'no filters'],
    ]);
    expect(runs).toEqual([
      { source: 'ops', revision: 'r-ops-1', trigger: 'on-request', pipeline: 'deploy', inputs: { env: 'staging', ref: '3f9c2e1' }, dedupeKey: 'staging/3f9c2e1', dedupeWindowMs: 3_600_000 },
      { source: 'team-b', revision: 'r-b-9', trigger: 'on-request', pipeline: 'deploy', inputs: { target: 'payments' } },
    ]);
    // Each trigger looked up the pipeline of its own source, at its own revision.
    expect(calls).toEqual([
      ['ops', 'deploy', 'r-ops-1'],
      ['ops', 'deploy', 'r-ops-1'],
      ['team-b', 'deploy', 'r-b-9'],
    ]);
  });

  it('explains every other trigger when asked, with the same runs', () => {
    const { verdicts, runs } = matchEvent(index, request, lookup, { explain: true });
    expect(runs).toEqual(matchEvent(index, request, lookup).runs);
    expect(verdicts).toHaveLength(7);
    expect(verdicts.find((v) => v.trigger === 'prod-only')).toMatchObject({ verdict: 'filtered', reason: 'filters[0] labels.env: "staging" is not one of ["prod"]' });
    expect(verdicts.filter((v) => v.verdict === 'not-candidate').map((v) => [v.trigger, v.reason])).toEqual([
      ['on-push', "listens to source github; the event's source is api"],
      ['deploy-command', "listens to source github; the event's source is api"],
      ['either', "listens to source nats; the event's source is api"],
    ]);
  });

  it('records a missing pipeline and a failing dedupe key as inputs-failed', () => {
    const sparse = buildTriggerIndex([
      { source: 'ops', trigger: trigger('no-pipeline', { event: { type: 'x' }, pipelines: [{ name: 'gone' }] }) },
      { source: 'ops', trigger: trigger('no-key', { event: { type: 'x' }, pipelines: [{ name: 'deploy', inputs: { ref: 'main' } }], dedupe: '${{ event.body.after }}' }) },
    ]);
    const { verdicts, runs } = matchEvent(sparse, createEvent({ id: '1', source: 'api', type: 'x', body: {}, receivedAt: at }), lookup);
    expect(verdicts.map((v) => [v.verdict, v.reason.split(':')[0]])).toEqual([
      ['inputs-failed', 'pipeline gone'],
      ['inputs-failed', 'dedupe'],
    ]);
    expect(runs).toEqual([]);
  });

  it('fires a slash-command with its arguments and the permission to check', () => {
    const onPr = createEvent({ id: 'c-1', source: 'github', type: 'issue_comment', action: 'created', body: { comment: { body: '/deploy prod\nplease' }, issue: { number: 7, pull_request: { url: 'u' } } }, receivedAt: at });
    const { verdicts, runs } = matchEvent(index, onPr, lookup);
    expect(verdicts).toEqual([
      { source: 'ops', revision: 'r-ops-1', trigger: 'deploy-command', verdict: 'matched', reason: 'command /deploy prod; filters[0] `has(body.issue.pull_request)` is true', filters: [{ index: 0, holds: true, reason: 'filters[0] `has(body.issue.pull_request)` is true' }], command: { name: '/deploy', args: ['prod'] } },
    ]);
    expect(runs).toEqual([
      { source: 'ops', revision: 'r-ops-1', trigger: 'deploy-command', pipeline: 'deploy', inputs: { env: 'staging', ref: 'refs/pull/7/head' }, command: { name: '/deploy', args: ['prod'] }, requiredPermission: 'write' },
    ]);
    const onIssue = createEvent({ ...onPr, body: { comment: { body: '/deploy' }, issue: { number: 8 } } });
    expect(matchEvent(index, onIssue, lookup).verdicts.map((v) => [v.verdict, v.reason])).toEqual([['filtered', 'filters[0] `has(body.issue.pull_request)` is false']]);
    const other = createEvent({ ...onPr, body: { comment: { body: '/build' }, issue: { number: 8 } } });
    expect(matchEvent(index, other, lookup, { explain: true }).verdicts.find((v) => v.trigger === 'deploy-command')?.reason).toBe("listens to the command /deploy; the comment's commands are /build");
  });

  it('with filtersOperator or, one filter is enough', () => {
    const nats = (subject: string, severity: string) => createEvent({ id: '1', source: 'nats', type: 't', subject, labels: { severity }, receivedAt: at });
    expect(matchEvent(index, nats('ops.clusters.prod-1.status', 'low'), lookup).verdicts.map((v) => v.verdict)).toEqual(['matched']);
    expect(matchEvent(index, nats('ops.clusters.dev-1.status', 'critical'), lookup).runs.map((r) => r.inputs)).toEqual([{ env: 'staging', ref: 'ops.clusters.dev-1.status' }]);
    expect(matchEvent(index, nats('ops.clusters.dev-1.status', 'low'), lookup).verdicts.map((v) => [v.verdict, v.reason])).toEqual([
      ['filtered', 'no filter holds (filtersOperator: or): filters[0] labels.severity: "low" is not one of ["critical"]; filters[1] subject: "ops.clusters.dev-1.status" starts with none of ["ops.clusters.prod-"]'],
    ]);
    expect(matchEvent(index, nats('ops.clusters.prod-1.pods', 'critical'), lookup).verdicts).toEqual([]);
  });
});
