// Every filter kind holding and not holding, with the exact reason an author reads; how
// `filtersOperator` combines them; and expressions over the names docs/definitions.md lists.
import { describe, expect, it } from 'vitest';
import type { TriggerFilter } from '../../schemas/index.js';
import { compileFilter, evaluateFilters, pathReader, type FilterInput } from './filters.js';
import { createEvent, eventView, type NormalizedEvent } from './normalized-event.js';

const event = createEvent({
  id: 'd-1',
  source: 'github',
  type: 'push',
  subject: 'ops.clusters.prod-1.status',
  headers: { 'X-GitHub-Event': 'push' },
  labels: { env: 'staging', version: '1', 'app.kubernetes.io/name': 'payments' },
  body: { ref: 'refs/heads/dev', count: 3, draft: false, commits: [{ id: 'a1' }], repository: { full_name: 'acme/payments' }, nothing: null },
  receivedAt: new Date('2026-01-02T03:04:05Z'),
});

function inputOf(e: NormalizedEvent): FilterInput {
  return { event: e, expressionContext: () => ({ event: eventView(e), body: e.body, headers: e.headers, labels: e.labels, subject: e.subject ?? null }) };
}

function check(filter: TriggerFilter, on: NormalizedEvent = event) {
  const { holds, reason } = compileFilter(filter, 1).test(inputOf(on));
  return { holds, reason };
}

describe('paths', () => {
  it('read body, headers (any case), labels (dots in the key), subject, source, type and id', () => {
    expect(pathReader('body.repository.full_name')(event)).toBe('acme/payments');
    expect(pathReader('body.commits.0.id')(event)).toBe('a1');
    expect(pathReader('headers.X-GitHub-Event')(event)).toBe('push');
    expect(pathReader('headers.x-github-event')(event)).toBe('push');
    expect(pathReader('labels.app.kubernetes.io/name')(event)).toBe('payments');
    expect(pathReader('subject')(event)).toBe('ops.clusters.prod-1.status');
    expect(pathReader('source')(event)).toBe('github');
    expect(pathReader('type')(event)).toBe('push');
    expect(pathReader('id')(event)).toBe('d-1');
    expect(pathReader('body.nothing')(event)).toBeNull();
    expect(pathReader('body.missing.deeper')(event)).toBeUndefined();
    expect(pathReader('body.constructor')(event)).toBeUndefined();
    expect(pathReader('type.name')(event)).toBeUndefined();
  });
});

describe('data filters', () => {
  it('exact: any of the values, types kept', () => {
    expect(check({ path: 'body.ref', value: ['refs/heads/main', 'refs/heads/dev'] })).toEqual({
      holds: true,
      reason: 'filters[1] body.ref: "refs/heads/dev" is one of ["refs/heads/main", "refs/heads/dev"]',
    });
    expect(check({ path: 'body.ref', value: ['refs/heads/main'] })).toEqual({
      holds: false,
      reason: 'filters[1] body.ref: "refs/heads/dev" is not one of ["refs/heads/main"]',
    });
    expect(check({ path: 'body.count', value: 3 }).holds).toBe(true);
    expect(check({ path: 'body.draft', value: [false] }).holds).toBe(true);
    expect(check({ path: 'body.nothing', value: [null] }).holds).toBe(true);
  });

  it('exact: a number is not the same text, and the reason says how to fix it', () => {
    expect(check({ path: 'labels.version', value: [1] })).toEqual({
      holds: false,
      reason: 'filters[1] labels.version: "1" is not one of [1] (1 in the filter is a number and the event\'s value is text; filter values keep their YAML type: quote it)',
    });
    expect(check({ path: 'body.count', value: ['3'] }).reason).toBe(
      'filters[1] body.count: 3 is not one of ["3"] ("3" in the filter is text and the event\'s value is a number; filter values keep their YAML type: unquote it)',
    );
  });

  it('a missing value matches nothing', () => {
    expect(check({ path: 'body.after', value: ['x'] })).toEqual({ holds: false, reason: 'filters[1] body.after: missing, so not one of ["x"]' });
    expect(check({ path: 'body.after', value: ['^x'], match: 'regex' })).toEqual({ holds: false, reason: 'filters[1] body.after: missing, so matches none of ["^x"] (regex)' });
  });

  it('regex: searches the text unless anchored', () => {
    expect(check({ path: 'body.repository.full_name', value: ['^acme/.*$'], match: 'regex' })).toEqual({
      holds: true,
      reason: 'filters[1] body.repository.full_name: "acme/payments" matches "^acme/.*$"',
    });
    expect(check({ path: 'body.repository.full_name', value: ['pay'], match: 'regex' }).holds).toBe(true);
    expect(check({ path: 'body.repository.full_name', value: ['^other/', '^acme$'], match: 'regex' })).toEqual({
      holds: false,
      reason: 'filters[1] body.repository.full_name: "acme/payments" matches none of ["^other/", "^acme$"] (regex)',
    });
    expect(check({ path: 'body.count', value: ['^[0-9]$'], match: 'regex' }).holds).toBe(true);
    expect(check({ path: 'body.commits', value: ['.'], match: 'regex' })).toEqual({
      holds: false,
      reason: 'filters[1] body.commits: a list, not text, so matches none of ["."] (regex)',
    });
  });

  it('prefix: the start of the text', () => {
    expect(check({ path: 'subject', value: ['ops.clusters.prod-'], match: 'prefix' })).toEqual({
      holds: true,
      reason: 'filters[1] subject: "ops.clusters.prod-1.status" starts with "ops.clusters.prod-"',
    });
    expect(check({ path: 'subject', value: ['ops.clusters.staging-'], match: 'prefix' })).toEqual({
      holds: false,
      reason: 'filters[1] subject: "ops.clusters.prod-1.status" starts with none of ["ops.clusters.staging-"]',
    });
  });

  it('glob: shell wildcards over the whole value', () => {
    expect(check({ path: 'body.ref', value: ['refs/heads/*'], match: 'glob' })).toEqual({
      holds: true,
      reason: 'filters[1] body.ref: "refs/heads/dev" matches "refs/heads/*"',
    });
    expect(check({ path: 'body.ref', value: ['refs/*'], match: 'glob' }).holds).toBe(true);
    expect(check({ path: 'body.ref', value: ['refs/heads/d?v'], match: 'glob' }).holds).toBe(true);
    expect(check({ path: 'body.ref', value: ['refs/heads/[cd]ev'], match: 'glob' }).holds).toBe(true);
    expect(check({ path: 'body.ref', value: ['refs/heads/[!d]ev'], match: 'glob' }).holds).toBe(false);
    expect(check({ path: 'body.ref', value: ['refs/heads/(dev)'], match: 'glob' }).holds).toBe(false);
    expect(check({ path: 'body.ref', value: ['dev', 'refs/heads/release-*'], match: 'glob' })).toEqual({
      holds: false,
      reason: 'filters[1] body.ref: "refs/heads/dev" matches none of ["dev", "refs/heads/release-*"] (glob)',
    });
  });

  // Regression: as a backtracking regular expression this took 15 s on the event loop.
  it('glob: `*-*-*-*-prod` against a ref of 400 dashes answers at once', { timeout: 60_000 }, () => {
    const hostile = createEvent({ id: 'd-2', source: 'github', type: 'push', headers: {}, labels: {}, body: { ref: '-'.repeat(400) }, receivedAt: new Date(0) });
    const started = performance.now();
    expect(check({ path: 'body.ref', value: ['*-*-*-*-prod'], match: 'glob' }, hostile).holds).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a regex that does not compile never holds and says why', () => {
    const { holds, reason } = check({ path: 'body.ref', value: ['('], match: 'regex' });
    expect(holds).toBe(false);
    expect(reason).toMatch(/^filters\[1\] body\.ref: Invalid regular expression/);
  });
});

describe('expression filters', () => {
  it('read body, headers, labels, subject and event', () => {
    expect(check({ expr: 'size(body.commits) > 0' })).toEqual({ holds: true, reason: 'filters[1] `size(body.commits) > 0` is true' });
    expect(check({ expr: "${{ body.ref == 'refs/heads/main' }}" })).toEqual({ holds: false, reason: "filters[1] `body.ref == 'refs/heads/main'` is false" });
    expect(check({ expr: "headers['x-github-event'] == 'push' && labels.env == 'staging'" }).holds).toBe(true);
    expect(check({ expr: "subject.startsWith('ops.') && event.type == 'push' && event.source == 'github' && event.id == 'd-1'" }).holds).toBe(true);
    expect(check({ expr: "event.time == '2026-01-02T03:04:05.000Z' && event.body.count == 3" }).holds).toBe(true);
    expect(check({ expr: "body.repository.full_name.matches('^acme/')" }).holds).toBe(true);
  });

  it('an error or a value other than true/false does not hold, and says so', () => {
    const failed = check({ expr: 'body.after.size() > 0' });
    expect(failed.holds).toBe(false);
    expect(failed.reason).toMatch(/^filters\[1\] `body\.after\.size\(\) > 0` failed: .*after/);
    expect(check({ expr: 'body.count' })).toEqual({ holds: false, reason: 'filters[1] `body.count` gave 3, not true or false' });
    expect(check({ expr: 'subject == null' }, createEvent({ ...event, subject: undefined })).holds).toBe(true);
    expect(check({ expr: 'has(event.subject)' }, createEvent({ ...event, subject: undefined })).holds).toBe(false);
  });
});

describe('filtersOperator', () => {
  const compile = (filters: TriggerFilter[]) => filters.map((f, i) => compileFilter(f, i));
  const pass = { path: 'labels.env', value: ['staging'] };
  const fail = { path: 'labels.env', value: ['prod'] };

  it('and: the first filter that does not hold is the reason; expressions run after data filters', () => {
    const filters = compile([{ expr: 'size(body.commits) > 0' }, pass, fail]);
    const cheapFirst = [...filters.filter((f) => f.cheap), ...filters.filter((f) => !f.cheap)];
    const verdict = evaluateFilters(cheapFirst, 'and', inputOf(event));
    expect(verdict.holds).toBe(false);
    expect(verdict.reason).toBe('filters[2] labels.env: "staging" is not one of ["prod"]');
    // The expression was never evaluated: the data filters already decided.
    expect(verdict.filters.map((f) => [f.index, f.holds])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(evaluateFilters(compile([pass, { expr: 'true' }]), 'and', inputOf(event))).toMatchObject({ holds: true, reason: 'all 2 filters hold' });
  });

  it('or: one filter is enough; when none holds, every reason is given', () => {
    expect(evaluateFilters(compile([fail, pass]), 'or', inputOf(event))).toMatchObject({
      holds: true,
      reason: 'filters[1] labels.env: "staging" is one of ["staging"] (filtersOperator: or)',
    });
    expect(evaluateFilters(compile([fail, { expr: 'false' }]), 'or', inputOf(event))).toMatchObject({
      holds: false,
      reason: 'no filter holds (filtersOperator: or): filters[0] labels.env: "staging" is not one of ["prod"]; filters[1] `false` is false',
    });
  });

  it('no filters always hold', () => {
    expect(evaluateFilters([], 'and', inputOf(event))).toEqual({ holds: true, reason: 'no filters', filters: [] });
    expect(evaluateFilters([], 'or', inputOf(event)).holds).toBe(true);
  });
});
