// The index returns exactly the triggers an event is for — the same set a scan of every
// trigger finds — and only those: on 1,000 triggers an event looks at a handful.
import { describe, expect, it } from 'vitest';
import type { Trigger } from '../../schemas/index.js';
import { whyNotCandidate, type TriggerEntry } from './compiled-trigger.js';
import { commandsOf } from './commands.js';
import { pathReader } from './filters.js';
import { createEvent, type NormalizedEvent } from './normalized-event.js';
import { buildTriggerIndex } from './trigger-index.js';

function trigger(name: string, spec: Partial<Trigger['spec']>): Trigger {
  return { apiVersion: 'eventops.dev/v1', kind: 'Trigger', metadata: { name }, spec: { pipelines: [{ name: 'p' }], ...spec } };
}

/** mulberry32: the same sequence on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GITHUB_TYPES = ['push', 'pull_request', 'pull_request.opened', 'pull_request.closed', 'issues', 'issues.labeled', 'release.published'];

/** 1,000 triggers of two definitions sources, over every kind of constraint. */
function thousandTriggers(): TriggerEntry[] {
  const random = prng(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const entries: TriggerEntry[] = [];
  for (let i = 0; i < 1000; i++) {
    const source = i % 2 === 0 ? 'ops' : 'team-b';
    const name = `t-${i}`;
    const kind = i % 10;
    let spec: Partial<Trigger['spec']>;
    if (kind < 3) {
      spec = { event: { source: 'github', type: pick(GITHUB_TYPES) } };
      // Most GitHub triggers are for one repository (or a few): the index keys them by it.
      if (i % 3 !== 0) spec.filters = [{ path: 'body.ref', value: ['refs/heads/main'], match: 'glob' }, { path: 'body.repository.full_name', value: [`acme/r${i % 20}`, `acme/r${(i + 1) % 20}`] }];
    }
    else if (kind < 5) spec = { event: { source: 'api', type: `svc-${i % 40}.requested` } };
    else if (kind < 7) spec = { event: { source: 'nats', subject: pick([`ops.clusters.c${i % 50}.>`, `ops.*.c${i % 50}.status`, `ops.clusters.c${i % 50}.status`]) } };
    else if (kind === 7) spec = { event: { source: 'nats', type: `alert.v${i % 5}`, subject: `alerts.r${i % 30}.*` } };
    else if (kind === 8) spec = { command: `/cmd-${i % 25}`, ...(i % 3 === 0 ? { event: { source: 'github', type: 'issue_comment' } } : {}) };
    else if (i % 20 === 9) spec = { schedule: '0 3 * * *', event: { source: 'schedule' } };
    else spec = i % 40 === 19 ? { event: { type: `svc-${i % 40}.requested` } } : { event: { source: `webhook/hook-${i % 8}` } };
    entries.push({ source, trigger: trigger(name, spec) });
  }
  return entries;
}

function sampleEvents(): NormalizedEvent[] {
  const random = prng(7);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const at = new Date(0);
  const events: NormalizedEvent[] = [];
  for (let i = 0; i < 300; i++) {
    const kind = i % 6;
    if (kind === 0) {
      const [type, action] = pick(['push', 'pull_request.opened', 'pull_request.synchronize', 'issues.labeled', 'release.published']).split('.') as [string, string | undefined];
      const body = random() < 0.9 ? { repository: { full_name: `acme/r${Math.floor(random() * 22)}` } } : {};
      events.push(createEvent({ id: `${i}`, source: 'github', type, ...(action ? { action } : {}), body, receivedAt: at }));
    } else if (kind === 1) events.push(createEvent({ id: `${i}`, source: 'api', type: `svc-${Math.floor(random() * 45)}.requested`, receivedAt: at }));
    else if (kind === 2) {
      const c = Math.floor(random() * 55);
      events.push(createEvent({ id: `${i}`, source: 'nats', type: 'x', subject: pick([`ops.clusters.c${c}.status`, `ops.eu.c${c}.status`, `ops.clusters.c${c}.a.b`, `ops.clusters.c${c}`]), receivedAt: at }));
    } else if (kind === 3) events.push(createEvent({ id: `${i}`, source: 'nats', type: `alert.v${Math.floor(random() * 6)}`, subject: `alerts.r${Math.floor(random() * 32)}.disk`, receivedAt: at }));
    else if (kind === 4) {
      const type = pick(['issue_comment', 'pull_request_review_comment']);
      events.push(createEvent({ id: `${i}`, source: 'github', type, action: 'created', body: { comment: { body: `/cmd-${Math.floor(random() * 30)} now` } }, receivedAt: at }));
    } else events.push(createEvent({ id: `${i}`, source: 'schedule', type: 'schedule', labels: { source: pick(['ops', 'team-b']), trigger: `t-${pick([9, 29, 49, 10, 19])}` }, receivedAt: at }));
  }
  return events;
}

describe('buildTriggerIndex', () => {
  const entries = thousandTriggers();
  const index = buildTriggerIndex(entries);

  it('returns exactly the triggers a scan of all 1,000 finds, in index order, and only a few per event', () => {
    let total = 0;
    let most = 0;
    for (const event of sampleEvents()) {
      const { candidates, commands } = index.candidates(event);
      expect(commands).toEqual(commandsOf(event));
      const scanned = index.triggers.filter((t) => whyNotCandidate(t, event, commands) === undefined && (!t.keyFilter || t.keyFilter.values.includes(pathReader(t.keyFilter.path)(event) as string)));
      expect(candidates.map((t) => t.name)).toEqual(scanned.map((t) => t.name));
      total += candidates.length;
      most = Math.max(most, candidates.length);
    }
    // 300 events over 1,000 triggers: a scan would look at 300,000; the busiest event here is a
    // pull_request.opened, for the ~90 triggers on pull_request or pull_request.opened.
    expect(total).toBeGreaterThan(100);
    expect(total).toBeLessThan(300 * 30);
    expect(most).toBeLessThan(100);
  });

  it('counts the candidates of typical events', () => {
    const at = new Date(0);
    const count = (e: NormalizedEvent) => index.candidates(e).candidates.length;
    const github = (type: string, action?: string) => createEvent({ id: '1', source: 'github', type, ...(action ? { action } : {}), receivedAt: at });
    const all = index.triggers;
    const expected = (source: string, types: string[]) => all.filter((t) => t.eventSource === source && t.command === undefined && !t.keyFilter && types.includes(t.type ?? '')).length;
    expect(count(github('push'))).toBe(expected('github', ['push']));
    expect(count(github('pull_request', 'opened'))).toBe(expected('github', ['pull_request', 'pull_request.opened']));
    expect(count(github('pull_request', 'opened'))).toBeLessThan(40);
    // A trigger keyed by its repository filter is a candidate for its repositories only.
    const inRepo = createEvent({ id: '1', source: 'github', type: 'push', body: { repository: { full_name: 'acme/r3' } }, receivedAt: at });
    const keyed = index.candidates(inRepo).candidates.filter((t) => t.keyFilter);
    expect(keyed.length).toBeGreaterThan(0);
    expect(keyed.every((t) => t.keyFilter?.values.includes('acme/r3'))).toBe(true);
    expect(keyed.length).toBe(all.filter((t) => t.type === 'push' && t.keyFilter?.values.includes('acme/r3')).length);
    // One schedule tick is for its own trigger only.
    expect(index.candidates(createEvent({ id: '1', source: 'schedule', type: 'schedule', labels: { source: 'team-b', trigger: 't-29' }, receivedAt: at })).candidates.map((t) => [t.entry.source, t.name])).toEqual([['team-b', 't-29']]);
    expect(count(createEvent({ id: '1', source: 'schedule', type: 'schedule', labels: { source: 'ops', trigger: 't-29' }, receivedAt: at }))).toBe(0);
    // A type-only trigger (no source) listens to every source; source-only triggers take every event of their source.
    expect(index.candidates(createEvent({ id: '1', source: 'nats', type: 'svc-19.requested', receivedAt: at })).candidates.every((t) => t.eventSource === undefined || t.eventSource === 'nats')).toBe(true);
    expect(count(createEvent({ id: '1', source: 'webhook/hook-3', type: 'anything', receivedAt: at }))).toBe(all.filter((t) => t.eventSource === 'webhook/hook-3').length);
  });

  it('matches `type: a.b` as type a with action b, and a dotted CloudEvents type whole', () => {
    const small = buildTriggerIndex([
      { source: 's', trigger: trigger('any-pr', { event: { source: 'github', type: 'pull_request' } }) },
      { source: 's', trigger: trigger('pr-opened', { event: { source: 'github', type: 'pull_request.opened' } }) },
      { source: 's', trigger: trigger('cloud', { event: { type: 'deploy.requested' } }) },
    ]);
    const names = (e: NormalizedEvent) => small.candidates(e).candidates.map((t) => t.name);
    const at = new Date(0);
    expect(names(createEvent({ id: '1', source: 'github', type: 'pull_request', action: 'opened', receivedAt: at }))).toEqual(['any-pr', 'pr-opened']);
    expect(names(createEvent({ id: '1', source: 'github', type: 'pull_request', action: 'closed', receivedAt: at }))).toEqual(['any-pr']);
    expect(names(createEvent({ id: '1', source: 'api', type: 'deploy.requested', receivedAt: at }))).toEqual(['cloud']);
    expect(names(createEvent({ id: '1', source: 'api', type: 'deploy', receivedAt: at }))).toEqual([]);
  });
});
