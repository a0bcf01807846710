// The line scan finds the same document starts as the position-keeping parser.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { documentStarts } from './document-starts.js';
import { listDefinitionFiles } from './read-files.js';

function exact(text: string) {
  const lineCounter = new LineCounter();
  return parseAllDocuments(text, { lineCounter }).map((doc) => {
    const contents = doc.contents;
    if (contents === null || contents.range === undefined || ('value' in contents && contents.value === null && contents.range[0] === contents.range[1])) return undefined;
    const { line, col } = lineCounter.linePos(contents.range[0]);
    return { line, column: col };
  });
}

const CASES = [
  'a: 1\n',
  '# comment\n---\na: 1\n',
  '%YAML 1.2\n---\na: 1\n---\nb: 2\n...\n---\nc: 3\n',
  'a: 1\n---\n---\nb: 2\n',
  '--- {a: 1}\n---\n  b: 2\n',
  'a: |\n  ---\n  x\nb: 2\n',
  '\r\n# x\r\n---\r\nkind: Pipeline\r\n',
  '---\n# only a comment\n---\n\n\n   - indented: list\n',
];

describe('documentStarts', () => {
  it('agrees with the exact parser on crafted files', () => {
    for (const text of CASES) expect(documentStarts(text), JSON.stringify(text)).toEqual(exact(text));
  });

  it('agrees with the exact parser on every YAML file of the project', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const files = await listDefinitionFiles(['definitions-template', 'test/fixtures'], root);
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(documentStarts(text), file).toEqual(exact(text));
    }
  });
});
