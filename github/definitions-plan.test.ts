// The plan of a definitions change: added, changed (path-level diff of spec and metadata) and
// removed definitions, and trigger changes in words.
import { describe, expect, it } from 'vitest';
import { diffPaths, planDefinitions, triggerChangeWords, type PlanDefinition } from './definitions-plan.js';

const def = (kind: string, name: string, spec: unknown, extra: Partial<PlanDefinition> = {}): PlanDefinition => ({ kind, name, file: `defs/${name}.yaml`, line: 1, metadata: { name }, spec, ...extra });

const pipeline = (tasks: unknown[], more: Record<string, unknown> = {}) => ({ tasks, ...more });
const trigger = (spec: Record<string, unknown> = {}) => ({ event: { source: 'github', type: 'push' }, filters: [{ path: 'body.ref', value: ['refs/heads/main'] }], pipelines: [{ name: 'deploy' }], ...spec });

describe('planDefinitions', () => {
  it('sorts definitions into added, changed and removed by kind and name; unchanged ones are counted', () => {
    const active = [def('Pipeline', 'build', pipeline([{ name: 'a', commands: ['x'] }])), def('Actuator', 'old', { local: {} }), def('Pipeline', 'same', pipeline([]))];
    const next = [def('Pipeline', 'build', pipeline([{ name: 'a', commands: ['y'] }])), def('Pipeline', 'same', pipeline([])), def('Pipeline', 'new', pipeline([])), def('Actuator', 'fresh', { local: {} })];
    const plan = planDefinitions(active, next);
    expect(plan.added.map((d) => `${d.kind}/${d.name}`)).toEqual(['Actuator/fresh', 'Pipeline/new']);
    expect(plan.removed.map((d) => `${d.kind}/${d.name}`)).toEqual(['Actuator/old']);
    expect(plan.changed.map((c) => [c.after.name, c.fields.map((f) => f.path)])).toEqual([['build', ['spec.tasks[a].commands']]]);
    expect(plan.unchanged).toBe(1);
    expect(plan.triggers).toEqual([]);
  });

  it('a kind is part of the key: a Pipeline and a Trigger of one name are two definitions', () => {
    const plan = planDefinitions([def('Pipeline', 'deploy', pipeline([]))], [def('Trigger', 'deploy', trigger())]);
    expect(plan.added.map((d) => d.kind)).toEqual(['Trigger']);
    expect(plan.removed.map((d) => d.kind)).toEqual(['Pipeline']);
  });

  it('equal content hashes are unchanged without a diff; a definition that only moved lines is unchanged, one moved to another file is changed', () => {
    const a = def('Pipeline', 'p', pipeline([]), { contentHash: 'h1' });
    expect(planDefinitions([a], [{ ...a, spec: { different: true } }]).unchanged).toBe(1);
    expect(planDefinitions([a], [{ ...a, line: 40, contentHash: 'h2' }])).toMatchObject({ unchanged: 1, changed: [] });
    const moved = planDefinitions([a], [{ ...a, file: 'defs/other.yaml', contentHash: 'h3' }]);
    expect(moved.changed[0]?.fields).toEqual([{ path: 'file', change: 'changed', before: 'defs/p.yaml', after: 'defs/other.yaml' }]);
  });

  it('metadata changes are listed under metadata.*', () => {
    const plan = planDefinitions([def('Actuator', 'a', { local: {} }, { metadata: { name: 'a', labels: { team: 'ops' } } })], [def('Actuator', 'a', { local: {} }, { metadata: { name: 'a', labels: { team: 'web' } } })]);
    expect(plan.changed[0]?.fields).toEqual([{ path: 'metadata.labels.team', change: 'changed', before: 'ops', after: 'web' }]);
  });

  it('an empty active set (no revision yet) plans everything as added; an empty new set removes everything', () => {
    const all = [def('Pipeline', 'a', pipeline([])), def('Trigger', 't', trigger())];
    expect(planDefinitions([], all)).toMatchObject({ added: all, changed: [], removed: [], unchanged: 0 });
    const gone = planDefinitions(all, []);
    expect(gone.removed).toHaveLength(2);
    expect(gone.triggers).toEqual([{ name: 't', change: 'removed', words: ['github push no longer starts deploy'] }]);
  });
});

describe('diffPaths', () => {
  it('names changed scalars, added and removed keys', () => {
    expect(diffPaths({ timeout: '10m', a: 1 }, { timeout: '20m', b: 2 }, 'spec')).toEqual([
      { path: 'spec.a', change: 'removed', before: 1 },
      { path: 'spec.b', change: 'added', after: 2 },
      { path: 'spec.timeout', change: 'changed', before: '10m', after: '20m' },
    ]);
  });

  it('lists of named items are compared item by item: spec.tasks[build].commands; added and removed tasks', () => {
    const before = { tasks: [{ name: 'build', commands: ['npm ci'], timeout: '5m' }, { name: 'lint', commands: ['x'] }] };
    const after = { tasks: [{ name: 'build', commands: ['npm ci', 'npm test'], timeout: '5m' }, { name: 'deploy', commands: ['y'] }] };
    expect(diffPaths(before, after, 'spec').map((f) => `${f.change} ${f.path}`)).toEqual(['changed spec.tasks[build].commands', 'added spec.tasks[deploy]', 'removed spec.tasks[lint]']);
  });

  it('reordering named items is no change; reordering a plain list is one', () => {
    expect(diffPaths({ tasks: [{ name: 'a' }, { name: 'b' }] }, { tasks: [{ name: 'b' }, { name: 'a' }] }, 'spec')).toEqual([]);
    expect(diffPaths({ commands: ['a', 'b'] }, { commands: ['b', 'a'] }, 'spec')).toEqual([{ path: 'spec.commands', change: 'changed', before: ['a', 'b'], after: ['b', 'a'] }]);
  });

  it('lists whose items lack a name or repeat one are compared whole (a trigger calling one pipeline twice)', () => {
    const before = { pipelines: [{ name: 'p', inputs: { a: 1 } }, { name: 'p', inputs: { a: 2 } }] };
    const after = { pipelines: [{ name: 'p', inputs: { a: 1 } }, { name: 'p', inputs: { a: 3 } }] };
    expect(diffPaths(before, after, 'spec').map((f) => f.path)).toEqual(['spec.pipelines']);
  });

  it('keys that are not identifiers are quoted; nested objects give deep paths', () => {
    expect(diffPaths({ env: { 'my.var': 'a' } }, { env: { 'my.var': 'b' } }, 'spec.tasks[x]').map((f) => f.path)).toEqual(['spec.tasks[x].env["my.var"]']);
    expect(diffPaths({ concurrency: { group: 'g', cancelInProgress: false } }, { concurrency: { group: 'g', cancelInProgress: true } }, 'spec').map((f) => f.path)).toEqual(['spec.concurrency.cancelInProgress']);
  });

  it('a type change is one change; key order and keys holding undefined are no change', () => {
    expect(diffPaths({ v: [1] }, { v: { 0: 1 } }, 'spec')).toEqual([{ path: 'spec.v', change: 'changed', before: [1], after: { 0: 1 } }]);
    expect(diffPaths({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1, e: undefined }, 'spec')).toEqual([]);
  });
});

describe('trigger changes in words', () => {
  it('event type and filters changed (the example of the docs)', () => {
    const before = def('Trigger', 'deploy-on-main', trigger());
    const after = def('Trigger', 'deploy-on-main', trigger({ event: { source: 'github', type: 'pull_request' }, filters: [{ path: 'body.ref', value: ['refs/heads/release'] }] }));
    const plan = planDefinitions([before], [after]);
    expect(plan.triggers).toEqual([{ name: 'deploy-on-main', change: 'changed', words: ['event.type push → pull_request', 'filters changed: + body.ref in [refs/heads/release], − body.ref in [refs/heads/main]'] }]);
    expect(plan.changed[0]?.fields.map((f) => f.path)).toEqual(['spec.event.type', 'spec.filters']);
  });

  it('says what a subject, command, schedule, operator, pipelines and dedupe change does', () => {
    const words = triggerChangeWords(
      { event: { source: 'nats', subject: 'a.*' }, command: '/deploy', filters: [{ expr: 'true' }], pipelines: [{ name: 'a' }], dedupe: 'x' },
      { event: { source: 'nats' }, command: '/ship', schedule: '0 3 * * *', filters: [{ expr: 'true' }], filtersOperator: 'or', pipelines: [{ name: 'a' }, { name: 'b' }] },
    );
    expect(words).toEqual(['event.subject a.* dropped', 'command /deploy → /ship', 'schedule now 0 3 * * *', 'filters now match when any one holds (or)', 'starts a → a, b', 'dedupe changed']);
  });

  it('filters in another order are "reordered"; only the inputs of the same pipelines changed says so', () => {
    const f1 = { path: 'body.a', value: 'x', match: 'regex' };
    const f2 = { expr: 'size(body.commits) > 0' };
    expect(triggerChangeWords(trigger({ filters: [f1, f2] }), trigger({ filters: [f2, f1] }))).toEqual(['filters reordered']);
    expect(triggerChangeWords(trigger({ pipelines: [{ name: 'deploy', inputs: { env: 'a' } }] }), trigger({ pipelines: [{ name: 'deploy', inputs: { env: 'b' } }] }))).toEqual(['pipeline inputs changed']);
  });

  it('a trigger whose description or report changed is a changed definition but fires the same: not under triggers', () => {
    const plan = planDefinitions([def('Trigger', 't', trigger({ description: 'a' }))], [def('Trigger', 't', trigger({ description: 'b', report: { checks: true } }))]);
    expect(plan.changed).toHaveLength(1);
    expect(plan.triggers).toEqual([]);
  });

  it('a new trigger: what it listens to, its filters, what it starts', () => {
    const plan = planDefinitions([], [def('Trigger', 'nightly', { event: { source: 'schedule' }, schedule: '0 3 * * *', pipelines: [{ name: 'backup' }] }), def('Trigger', 'on-pr', trigger())]);
    expect(plan.triggers).toEqual([
      { name: 'nightly', change: 'added', words: ['listens to schedule "0 3 * * *"', 'starts backup'] },
      { name: 'on-pr', change: 'added', words: ['listens to github push', '1 filter', 'starts deploy'] },
    ]);
  });
});
