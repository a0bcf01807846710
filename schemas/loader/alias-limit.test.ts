// Alias bombs are refused before any value is built, at the alias's line, on the loader's
// parse and on a single document's; ordinary anchors and merge keys still work.
import { describe, expect, it } from 'vitest';
import { EVENT_BOMB } from '../../test/helpers/alias-bomb.js';
import { validateFiles } from '../validate/index.js';
import { mayHoldAlias } from './alias-limit.js';
import { parseYamlFile, parseYamlValue, YamlValueError } from './parse-yaml.js';

describe('YAML aliases', () => {
  it('sends any text that may hold an alias to the counting parser', () => {
    // A yes costs only speed: `cron: "*/5 * * * *"` is one (its last `*` is followed by a quote).
    for (const text of ['b: *a', 'b: [*a, *b]', 'b: {x: *a}', '<<: *base', '- *a', '*a', 'x:\n\t*a']) expect(mayHoldAlias(text), text).toBe(true);
    for (const text of ["glob: '*-prod'", 'path: src/**/x.yaml', 'run: a && b', 'x: 2*3']) expect(mayHoldAlias(text), text).toBe(false);
  });

  it('refuses a definition file with an alias bomb in well under a second, naming the line', () => {
    const started = performance.now();
    const { documents, diagnostics } = parseYamlFile({ path: 'bomb.yaml', text: EVENT_BOMB });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(documents).toEqual([]);
    expect(diagnostics).toEqual([
      expect.objectContaining({ file: 'bomb.yaml', line: 8, column: 10, rule: 'yaml-aliases', message: expect.stringMatching(/^too many YAML aliases: .* over the limit of 100 \(limits\.yaml\.maxAliases\)/) }),
    ]);
  });

  it('takes the limit from the options, and counts an alias of a node with aliases inside as that many copies', () => {
    const text = 'a: &a [1, 2]\nb: &b [*a, *a, *a]\nc: [*b, *b]\n'; // 3 + 2 × (1 + 3) = 11
    expect(parseYamlFile({ path: 'x.yaml', text }, { maxAliases: 11 }).diagnostics).toEqual([]);
    const over = parseYamlFile({ path: 'x.yaml', text }, { maxAliases: 10 }).diagnostics;
    expect(over.map((d) => `${d.line}:${d.column} ${d.rule}`)).toEqual(['3:9 yaml-aliases']);
    expect(parseYamlFile({ path: 'x.yaml', text }, { maxAliases: 0 }).diagnostics).toHaveLength(1);
  });

  it('keeps ordinary anchors and merge keys working', () => {
    const tasks = Array.from({ length: 20 }, (_, i) => `  - { <<: *defaults, name: t${i} }`).join('\n');
    const text = `defaults: &defaults { image: alpine, timeout: 5m }\ntasks:\n${tasks}\n`;
    const { documents, diagnostics } = parseYamlFile({ path: 'x.yaml', text });
    expect(diagnostics).toEqual([]);
    expect((documents[0]?.value as { tasks: unknown[] }).tasks[19]).toEqual({ image: 'alpine', timeout: '5m', name: 't19' });
  });

  it('refuses an alias inside the node it names (a loop a walk would never leave)', () => {
    const { diagnostics } = parseYamlFile({ path: 'x.yaml', text: 'a: &a\n  b: *a\n' });
    expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual(['2:6 the alias *a is inside the node &a it names, which makes an endless loop; write the value out instead']);
  });

  it('parses a single document (an event body) with the same limit, naming the line', () => {
    expect(parseYamlValue('type: push\nbody: { a: &x [1], b: *x }\n')).toEqual({ type: 'push', body: { a: [1], b: [1] } });
    expect(parseYamlValue('')).toBeNull();
    const started = performance.now();
    let error: unknown;
    try {
      parseYamlValue(EVENT_BOMB);
    } catch (e) {
      error = e;
    }
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(YamlValueError);
    expect(error).toMatchObject({ line: 8, column: 10, message: expect.stringMatching(/^line 8, column 10: too many YAML aliases/) });
    expect(() => parseYamlValue('a: [1, *a]\n')).toThrow(/^line 1, column 8: the alias \*a names no anchor before it/);
  });

  it('cuts any diagnostic that quotes a long or many-line value to a piece of one line', () => {
    const secret = Array.from({ length: 50 }, (_, i) => `line ${i} of a private file ${'x'.repeat(60)}`).join('\n');
    const text = `apiVersion: |\n${secret.replace(/^/gm, '  ')}\nkind: Pipeline\n`;
    const { diagnostics } = validateFiles([{ path: 'x.yaml', text }]);
    expect(diagnostics.map((d) => d.rule)).toContain('api-version');
    for (const d of diagnostics) {
      expect(d.message.length).toBeLessThanOrEqual(401);
      expect(d.message).not.toMatch(/line 10 of/);
    }
  });

  it('refuses brackets nested past a thousand before the exact parser recurses into them', () => {
    for (const n of [5000, 50_000]) {
      const text = `kind: Event\nbody: ${'['.repeat(n)}${']'.repeat(n)}\n`;
      const { documents, diagnostics } = parseYamlFile({ path: 'deep.yaml', text });
      expect(documents).toEqual([]);
      expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual(['2:1007 YAML syntax: collections nested deeper than 1000 levels; flatten the document']);
      expect(() => parseYamlValue(`a: &x 1\nb: *x\nc: ${'{'.repeat(n)}`)).toThrow(/^line 3, column 1004: collections nested deeper than 1000 levels/);
      expect(() => parseYamlValue(`c: ${'['.repeat(n)}${']'.repeat(n)}`)).toThrow(/^line 1, column \d+: nesting exceeded maxDepth \(100\)$/);
    }
  });

  it('quotes no more than one line of the source in a syntax error', () => {
    const secret = 'x'.repeat(5000);
    const { diagnostics } = parseYamlFile({ path: 'x.yaml', text: `a: "${secret}\nb: ${secret}\nc: [\n` });
    expect(diagnostics.length).toBeGreaterThan(0);
    for (const d of diagnostics) {
      expect(d.message).not.toContain('\n');
      expect(d.message.length).toBeLessThan(300);
    }
  });
});
