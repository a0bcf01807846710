// YAML loading: positions, multi-document files, duplicate keys, and string text kept.
import { describe, expect, it } from 'vitest';
import { validateFiles } from '../validate/index.js';
import { parseYamlFile } from './index.js';

describe('parseYamlFile', () => {
  it('reads every document of a file and locates values, keys and block collections', () => {
    const text = ['a: 1', '---', '# a comment only', '---', 'spec:', '  tasks:', '    - name: x', '      needs: [y, z]', ''].join('\n');
    const { documents, diagnostics } = parseYamlFile({ path: 'f.yaml', text });
    expect(diagnostics).toEqual([]);
    expect(documents.map((d) => d.index)).toEqual([0, 2]);
    const doc = documents[1]!;
    expect(doc.locate(['spec', 'tasks', 0, 'needs', 1])).toEqual({ line: 8, column: 18 });
    expect(doc.locate(['spec', 'tasks', 0, 'needs'], 'key')).toEqual({ line: 8, column: 7 });
    expect(doc.locate(['spec', 'tasks'])).toEqual({ line: 6, column: 3 });
    // A path that does not exist falls back to the nearest ancestor.
    expect(doc.locate(['spec', 'tasks', 0, 'missing'])).toEqual({ line: 7, column: 7 });
  });

  it('reports duplicate keys and syntax errors with their position', () => {
    const { diagnostics } = parseYamlFile({ path: 'f.yaml', text: 'a: 1\nb: 2\na: 3\n' });
    expect(diagnostics).toEqual([expect.objectContaining({ file: 'f.yaml', line: 3, column: 1, rule: 'duplicate-key', severity: 'error' })]);
  });

  it('keeps the source text of scalars', () => {
    const { documents } = parseYamlFile({ path: 'f.yaml', text: 'version: 1.0\ncount: 010\n' });
    expect(documents[0]!.value).toEqual({ version: 1, count: 10 });
    expect(documents[0]!.sourceText(['version'])).toBe('1.0');
    expect(documents[0]!.sourceText(['nope'])).toBeUndefined();
  });
});

describe('string text in definitions', () => {
  it('reads `1.0` as "1.0" where the schema declares a string, and keeps numbers elsewhere', () => {
    const text = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: p, labels: { version: 1.0, enabled: true } }
spec:
  inputs:
    - { name: version, default: 1.10 }
  tasks:
    - name: t
      commands: [ 1.0 ]
      env: { VERSION: 1.0, ON: yes, N: 0x1F }
`;
    const result = validateFiles([{ path: 'p.yaml', text }]);
    expect(result.errors).toBe(0);
    const value = result.definitions[0]!.value as { metadata: { labels: object }; spec: { tasks: { commands: unknown[]; env: object }[]; inputs: { default: unknown }[] } };
    expect(value.metadata.labels).toEqual({ version: '1.0', enabled: 'true' });
    expect(value.spec.tasks[0]!.commands).toEqual(['1.0']);
    expect(value.spec.tasks[0]!.env).toEqual({ VERSION: '1.0', ON: 'yes', N: '0x1F' });
    // The input is a string (the default type), so its default keeps its text too.
    expect(value.spec.inputs[0]!.default).toBe('1.10');
  });
});
