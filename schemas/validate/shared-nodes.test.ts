// A node shared through a YAML alias is one node: the rules walk it once, so a walk is linear
// in the text even where expansion would not be (the alias limit can be raised).
import { describe, expect, it } from 'vitest';
import { templateStrings } from './template-strings.js';
import { validateFiles } from './validate-files.js';

/** A list of nine references to the level below, `levels` deep: 9^levels leaves, 9 × levels + 1 objects. */
function sharedTree(levels: number, leaf: unknown): unknown {
  let node: unknown = [leaf];
  for (let i = 0; i < levels; i++) node = Array(9).fill(node);
  return node;
}

describe('walks over a parsed tree', () => {
  it('find the templates of a shared node once, not once per path to it', () => {
    const started = performance.now();
    const found = templateStrings({ spec: sharedTree(6, '${{ event.body.x }}') }, []);
    expect(found).toEqual([[['spec', 0, 0, 0, 0, 0, 0, 0], '${{ event.body.x }}']]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('report a secret in a shared node once, with the alias limit raised', () => {
    const text = [
      'apiVersion: eventops.dev/v1',
      'kind: Event',
      'type: x',
      'body:',
      '  a: &a [{ password: hunter2hunter2 }]',
      '  b: &b [*a, *a, *a]',
      '  c: [*b, *b, *b]',
      '',
    ].join('\n');
    const { diagnostics } = validateFiles([{ path: 'x.yaml', text }], { maxAliases: 10_000 });
    expect(diagnostics.map((d) => `${d.line} ${d.rule}`)).toEqual(['5 secret-literal']);
  });
});
