// limits.matching as matching applies it: a filter expression over its cost budget is a
// `filtered` verdict saying so (7 nested all() over 10-item lists ran 6 s before), triggers not
// reached within the time per event are `filtered` saying why, and the yielding matcher lets
// the event loop run between slices without counting the pauses as matching time.
import { describe, expect, it } from 'vitest';
import type { Trigger } from '../../schemas/index.js';
import { createEvent } from './normalized-event.js';
import { matchEvent, matchEventYielding, type PipelineLookup } from './match-event.js';
import { buildTriggerIndex } from './trigger-index.js';

const SEVEN_NESTED = 'body.l.all(a, body.l.all(b, body.l.all(c, body.l.all(d, body.l.all(e, body.l.all(f, body.l.all(g, a + b + c + d + e + f + g >= 0)))))))';
const pipelines: PipelineLookup = () => ({ apiVersion: 'eventops.dev/v1', kind: 'Pipeline', metadata: { name: 'p' }, spec: { tasks: [{ name: 't', commands: ['true'] }] } });

function trigger(name: string, filters: NonNullable<Trigger['spec']['filters']>): { source: string; trigger: Trigger } {
  return { source: 'ops', trigger: { apiVersion: 'eventops.dev/v1', kind: 'Trigger', metadata: { name }, spec: { event: { source: 'api', type: 'storm' }, filters, pipelines: [{ name: 'p' }] } } };
}

const event = createEvent({ id: 'e-1', source: 'api', type: 'storm', body: { l: Array.from({ length: 10 }, (_, i) => i), ref: '-'.repeat(800) }, receivedAt: new Date(0) });
const limits = { expressionCost: 100_000, eventTimeMs: 60_000 };

describe('matching limits', () => {
  it('filters a trigger whose expression is over the cost budget, saying so, and fast', { timeout: 60_000 }, async () => {
    const index = buildTriggerIndex([trigger('costly', [{ expr: SEVEN_NESTED }]), trigger('cheap', [{ expr: 'size(body.l) == 10' }]), trigger('glob', [{ path: 'body.ref', value: '*-*-*-*-prod', match: 'glob' }])]);
    const started = performance.now();
    const { verdicts, runs } = await matchEventYielding(index, event, pipelines, { limits });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(verdicts.find((v) => v.trigger === 'costly')).toMatchObject({
      verdict: 'filtered',
      reason: `filters[0] \`${SEVEN_NESTED}\` not evaluated: expression cost over the budget of 100000 (limits.matching.expressionCost)`,
    });
    expect(verdicts.find((v) => v.trigger === 'cheap')?.verdict).toBe('matched');
    expect(verdicts.find((v) => v.trigger === 'glob')).toMatchObject({ verdict: 'filtered', reason: expect.stringContaining('matches none of ["*-*-*-*-prod"]') });
    expect(runs.map((r) => r.trigger)).toEqual(['cheap']);
  });

  it('filters the triggers not reached within eventTimeMs, saying why', () => {
    const index = buildTriggerIndex(Array.from({ length: 5 }, (_, i) => trigger(`t${i}`, [])));
    // Each reading of the clock is 1 ms later: the bound of 3 ms is passed after a few triggers.
    let clock = 0;
    const { verdicts, runs } = matchEvent(index, event, pipelines, { limits: { expressionCost: 100_000, eventTimeMs: 3 }, now: () => clock++ });
    const late = verdicts.filter((v) => v.verdict === 'filtered');
    expect(late.length).toBeGreaterThan(0);
    expect(late.length).toBeLessThan(5);
    expect(late[0]?.reason).toBe('not reached: matching this event took over 3 ms (limits.matching.eventTime)');
    expect(runs).toHaveLength(5 - late.length);
  });

  it('pauses between slices, and the pauses are not matching time', async () => {
    const index = buildTriggerIndex(Array.from({ length: 20 }, (_, i) => trigger(`t${i}`, [])));
    let clock = 0;
    let pauses = 0;
    // Every trigger takes 1 ms of the clock, every pause 1,000 ms.
    const { verdicts } = await matchEventYielding(index, event, pipelines, {
      limits: { expressionCost: 100_000, eventTimeMs: 100 },
      sliceMs: 2,
      now: () => clock++,
      pause: async () => {
        pauses++;
        clock += 1000;
      },
    });
    expect(pauses).toBeGreaterThan(3);
    expect(verdicts.every((v) => v.verdict === 'matched')).toBe(true);
  });

  it('without limits, evaluates without a budget (eventops test-event)', () => {
    const index = buildTriggerIndex([trigger('small', [{ expr: 'body.l.all(a, body.l.all(b, a + b >= 0))' }])]);
    expect(matchEvent(index, event, pipelines).verdicts[0]?.verdict).toBe('matched');
  });
});
