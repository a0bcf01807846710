// What senders write, normalised: v1 Event documents, the same fields as JSON, CloudEvents
// envelopes and GitHub payloads.
import { describe, expect, it } from 'vitest';
import { eventFromDefinition, eventFromGithub, EventShapeError } from './event-documents.js';

const arrival = { id: 'generated', receivedAt: new Date('2026-01-01T00:00:00Z') };

describe('eventFromDefinition', () => {
  it('reads a v1 Event; it arrives with source api', () => {
    const event = eventFromDefinition(
      { apiVersion: 'eventops.dev/v1', kind: 'Event', type: 'deploy.requested', subject: 'services.payments', labels: { env: 'staging' }, body: { sha: '3f9c2e1' } },
      arrival,
    );
    expect(event).toEqual({
      id: 'generated',
      source: 'api',
      type: 'deploy.requested',
      subject: 'services.payments',
      headers: {},
      labels: { env: 'staging' },
      body: { sha: '3f9c2e1' },
      receivedAt: arrival.receivedAt,
    });
  });

  it('reads the same fields as JSON, keeps the sender\'s id, and reads JSON label numbers as text', () => {
    const event = eventFromDefinition({ id: 'd-7', type: 'hello', labels: { version: 2 } }, { ...arrival, source: 'nats' });
    expect(event).toMatchObject({ id: 'd-7', source: 'nats', type: 'hello', labels: { version: '2' }, body: null });
    expect(event.subject).toBeUndefined();
  });

  it('reads a CloudEvents envelope: data is the body, other attributes are ce- headers', () => {
    const event = eventFromDefinition(
      { specversion: '1.0', id: 'ce-1', source: '/tekton/prod', type: 'dev.tekton.event.taskrun.failed.v1', subject: 'ops.clusters.prod-1', time: '2026-01-01T00:00:00Z', data: { taskRun: 'build' }, severity: 'high' },
      arrival,
    );
    expect(event).toEqual({
      id: 'ce-1',
      source: 'api',
      type: 'dev.tekton.event.taskrun.failed.v1',
      subject: 'ops.clusters.prod-1',
      headers: { 'ce-specversion': '1.0', 'ce-source': '/tekton/prod', 'ce-time': '2026-01-01T00:00:00Z', 'ce-severity': 'high' },
      labels: {},
      body: { taskRun: 'build' },
      receivedAt: arrival.receivedAt,
    });
    expect(eventFromDefinition({ specversion: '1.0', type: 't', data_base64: Buffer.from('hi').toString('base64') }, arrival).body).toBe('hi');
  });

  it('refuses what is not an event, saying what is missing', () => {
    expect(() => eventFromDefinition(['a'], arrival)).toThrow(EventShapeError);
    expect(() => eventFromDefinition({ body: {} }, arrival)).toThrow('an event needs a `type` (text)');
    expect(() => eventFromDefinition({ ref: 'refs/heads/main', commits: [] }, arrival)).toThrow(/not `ref`, `commits` \(for a raw GitHub payload, say which event it is: --github-event NAME\)/);
    expect(() => eventFromDefinition({ type: 'x', labels: { a: { b: 1 } } }, arrival)).toThrow('the label `a` must be text, not a mapping');
    // data_base64 is stored as text: bytes that are not UTF-8, or hold a NUL, are refused rather than mangled.
    const ce = (bytes: number[]) => ({ specversion: '1.0', type: 't', data_base64: Buffer.from(bytes).toString('base64') });
    expect(() => eventFromDefinition(ce([0x61, 0x00, 0x62]), arrival)).toThrow('`data_base64` decodes to text with a NUL byte (at byte 1)');
    expect(() => eventFromDefinition(ce([0xc3, 0x28]), arrival)).toThrow('`data_base64` decodes to bytes that are not UTF-8 text');
    expect(eventFromDefinition(ce([0xc3, 0xbc]), arrival).body).toBe('ü');
  });
});

describe('eventFromGithub', () => {
  it('takes the type from X-GitHub-Event and the action from the payload', () => {
    const event = eventFromGithub({ action: 'opened', number: 1 }, { event: 'pull_request', delivery: 'gh-1', headers: { 'User-Agent': 'GitHub-Hookshot/1' } }, arrival);
    expect(event).toEqual({
      id: 'gh-1',
      source: 'github',
      type: 'pull_request',
      action: 'opened',
      headers: { 'user-agent': 'GitHub-Hookshot/1', 'x-github-event': 'pull_request', 'x-github-delivery': 'gh-1' },
      labels: {},
      body: { action: 'opened', number: 1 },
      receivedAt: arrival.receivedAt,
    });
    expect(eventFromGithub({ ref: 'refs/heads/main' }, { event: 'push' }, arrival)).toMatchObject({ id: 'generated', type: 'push' });
    expect(eventFromGithub({ ref: 'x' }, { event: 'push' }, arrival).action).toBeUndefined();
  });
});
