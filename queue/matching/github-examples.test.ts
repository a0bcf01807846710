// GitHub's published webhook examples (@octokit/webhooks-examples), normalised and matched
// against triggers shaped like those in definitions-template/triggers/.
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import type { Pipeline, Trigger } from '../../schemas/index.js';
import { eventFromGithub } from './event-documents.js';
import { matchEvent } from './match-event.js';
import type { NormalizedEvent } from './normalized-event.js';
import { buildTriggerIndex } from './trigger-index.js';

type Payload = Record<string, unknown>;
const definitions = examples as unknown as { name: string; examples: Payload[] }[];
const at = new Date('2026-01-01T00:00:00Z');

function payloads(name: string): Payload[] {
  return definitions.find((d) => d.name === name)?.examples ?? [];
}

function github(name: string, payload: Payload, delivery = 'd-1'): NormalizedEvent {
  return eventFromGithub(payload, { event: name, delivery }, { id: 'unused', receivedAt: at });
}

function trigger(name: string, spec: Partial<Trigger['spec']>): Trigger {
  return { apiVersion: 'eventops.dev/v1', kind: 'Trigger', metadata: { name }, spec: { pipelines: [{ name: 'build-test-deploy' }], ...spec } };
}

const pipeline: Pipeline = {
  apiVersion: 'eventops.dev/v1',
  kind: 'Pipeline',
  metadata: { name: 'build-test-deploy' },
  spec: {
    inputs: [
      { name: 'ref', type: 'string', required: true },
      { name: 'env', type: 'string', enum: ['staging', 'prod'], default: 'staging' },
      { name: 'run-tests', type: 'boolean', default: true },
    ],
    tasks: [{ name: 'build', commands: ['true'] }],
  },
};

// As definitions-template/triggers/, on the examples' default branch (`master`).
const index = buildTriggerIndex(
  [
    trigger('build-on-push', {
      event: { source: 'github', type: 'push' },
      filters: [{ path: 'body.ref', value: ['refs/heads/master'] }, { expr: 'size(body.commits) > 0' }],
      pipelines: [{ name: 'build-test-deploy', inputs: { ref: '${{ event.body.after }}', env: 'staging' } }],
      dedupe: '${{ event.body.after }}',
    }),
    trigger('deploy-command', {
      event: { source: 'github' },
      command: '/deploy',
      permission: 'write',
      filters: [{ expr: 'has(body.issue.pull_request)' }],
      pipelines: [{ name: 'build-test-deploy', inputs: { ref: 'refs/pull/${{ event.body.issue.number }}/head', env: 'prod' } }],
    }),
    trigger('pr-opened', {
      event: { source: 'github', type: 'pull_request.opened' },
      filters: [{ path: 'body.repository.full_name', value: ['^Codertocat/.*$'], match: 'regex' }],
      pipelines: [{ name: 'build-test-deploy', inputs: { ref: '${{ event.body.pull_request.head.sha }}', 'run-tests': true } }],
    }),
    trigger('release-published', {
      event: { source: 'github', type: 'release.published' },
      filters: [{ path: 'body.release.tag_name', value: ['v*', '0.*'], match: 'glob' }],
      pipelines: [{ name: 'build-test-deploy', inputs: { ref: 'refs/tags/${{ event.body.release.tag_name }}', env: 'prod' } }],
    }),
  ].map((t) => ({ source: 'ops', revision: 'abc123', trigger: t })),
);
const lookup = (_source: string, name: string) => (name === pipeline.metadata.name ? pipeline : undefined);

describe('GitHub example payloads', () => {
  it('every example normalises: type from the event name, action from the payload', () => {
    let count = 0;
    for (const definition of definitions) {
      for (const payload of definition.examples) {
        const event = github(definition.name, payload);
        expect(event.type).toBe(definition.name);
        expect(event.action).toBe(typeof payload.action === 'string' ? payload.action : undefined);
        expect(event.headers['x-github-event']).toBe(definition.name);
        // Matching any of them never throws, and only GitHub triggers are candidates.
        const { verdicts } = matchEvent(index, event, lookup);
        for (const v of verdicts) expect(['build-on-push', 'deploy-command', 'pr-opened', 'release-published']).toContain(v.trigger);
        count++;
      }
    }
    expect(count).toBeGreaterThan(300);
  });

  it('a push to master with commits builds the pushed commit; a tag push is filtered with the reason', () => {
    const pushes = payloads('push');
    const toMaster = pushes.find((p) => p.ref === 'refs/heads/master') as Payload;
    const { verdicts, runs } = matchEvent(index, github('push', toMaster), lookup);
    expect(verdicts.map((v) => [v.trigger, v.verdict])).toEqual([['build-on-push', 'matched']]);
    expect(runs).toEqual([
      { source: 'ops', revision: 'abc123', trigger: 'build-on-push', pipeline: 'build-test-deploy', inputs: { ref: toMaster.after, env: 'staging', 'run-tests': true }, dedupeKey: toMaster.after },
    ]);
    const tag = pushes.find((p) => p.ref === 'refs/tags/simple-tag') as Payload;
    // The exact filter on body.ref keys the trigger in the index: only explaining shows it.
    expect(matchEvent(index, github('push', tag), lookup).verdicts).toEqual([]);
    expect(matchEvent(index, github('push', tag), lookup, { explain: true }).verdicts.filter((v) => v.verdict !== 'not-candidate').map((v) => [v.verdict, v.reason])).toEqual([
      ['filtered', 'filters[0] body.ref: "refs/tags/simple-tag" is not one of ["refs/heads/master"]'],
    ]);
  });

  it('pull_request.opened matches opened only; other actions are not candidates', () => {
    const prs = payloads('pull_request');
    const opened = prs.find((p) => p.action === 'opened') as Payload & { pull_request: { head: { sha: string } } };
    const { runs } = matchEvent(index, github('pull_request', opened), lookup);
    expect(runs.map((r) => [r.trigger, r.inputs.ref])).toEqual([['pr-opened', opened.pull_request.head.sha]]);
    const closed = prs.find((p) => p.action === 'closed') as Payload;
    const explained = matchEvent(index, github('pull_request', closed), lookup, { explain: true }).verdicts.find((v) => v.trigger === 'pr-opened');
    expect(explained?.reason).toBe("listens to type pull_request.opened; the event's type is pull_request (action closed)");
  });

  it('release.published renders the tag into the inputs', () => {
    const published = payloads('release').find((p) => p.action === 'published') as Payload & { release: { tag_name: string } };
    const { verdicts, runs } = matchEvent(index, github('release', published), lookup);
    expect(verdicts[0]?.verdict).toBe('matched');
    expect(runs[0]?.inputs).toEqual({ ref: `refs/tags/${published.release.tag_name}`, env: 'prod', 'run-tests': true });
  });

  it('/deploy in a pull-request comment deploys its head; on a plain issue it is filtered; the example comment has no command', () => {
    const created = payloads('issue_comment').find((p) => p.action === 'created') as Payload & { issue: Payload; comment: Payload };
    expect(matchEvent(index, github('issue_comment', created), lookup).verdicts).toEqual([]);

    const onPr = { ...created, comment: { ...created.comment, body: '/deploy now' }, issue: { ...created.issue, pull_request: { url: 'https://api.github.com/repos/x/y/pulls/1' } } };
    const { verdicts, runs } = matchEvent(index, github('issue_comment', onPr), lookup);
    expect(verdicts.map((v) => [v.trigger, v.verdict, v.command])).toEqual([['deploy-command', 'matched', { name: '/deploy', args: ['now'] }]]);
    expect(runs[0]).toMatchObject({ inputs: { ref: `refs/pull/${String(created.issue.number)}/head`, env: 'prod' }, requiredPermission: 'write' });

    const onIssue = { ...created, comment: { ...created.comment, body: '/deploy' } };
    expect(matchEvent(index, github('issue_comment', onIssue), lookup).verdicts.map((v) => [v.verdict, v.reason])).toEqual([
      ['filtered', 'filters[0] `has(body.issue.pull_request)` is false'],
    ]);
    const edited = { ...onPr, action: 'edited' };
    expect(matchEvent(index, github('issue_comment', edited), lookup).verdicts).toEqual([]);
  });
});
