// Whatever a user writes, validation answers with diagnostics and never crashes. This takes
// the valid files of the template and the docs' fixtures, breaks them in many seeded random
// ways (lines dropped or duplicated, values swapped for lists, maps, numbers, nulls,
// templates), and checks every outcome is a well-formed result.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readDefinitionFiles, validateFiles, type SourceFile } from '../schemas/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const REPLACEMENTS = ['[]', '{}', '42', '1.0', 'null', 'true', '"${{ inputs.x }}"', '[a, {b: c}]', '{ secret: X }', '"${{"', '-1', '""', '&a x', '*nope'];

function mutate(text: string, rnd: () => number): string {
  const lines = text.split('\n');
  const edits = 1 + Math.floor(rnd() * 3);
  for (let e = 0; e < edits; e++) {
    const i = Math.floor(rnd() * lines.length);
    const line = lines[i] ?? '';
    const choice = rnd();
    if (choice < 0.2) lines.splice(i, 1);
    else if (choice < 0.35) lines.splice(i, 0, line);
    else if (choice < 0.9 && line.includes(':')) {
      const at = line.indexOf(':');
      lines[i] = `${line.slice(0, at + 1)} ${REPLACEMENTS[Math.floor(rnd() * REPLACEMENTS.length)]}`;
    } else lines[i] = `${line.slice(0, Math.floor(rnd() * line.length))}`;
  }
  return lines.join('\n');
}

describe('validation of broken input', () => {
  it('never throws, and every diagnostic is well formed', { timeout: 120_000 }, async () => {
    const originals = await readDefinitionFiles(['definitions-template', 'test/fixtures/legacy/hello-world', 'test/fixtures/legacy/mixed'], root);
    expect(originals.length).toBeGreaterThan(15);
    const rnd = random(Number(process.env.FUZZ_SEED ?? 20261122));
    let failures = 0;
    for (let round = 0; round < Number(process.env.FUZZ_ROUNDS ?? 150); round++) {
      const files: SourceFile[] = originals.map((f) => (rnd() < 0.5 ? { path: f.path, text: mutate(f.text, rnd) } : f));
      let result;
      try {
        result = validateFiles(files);
      } catch (error) {
        failures++;
        throw new Error(`round ${round} threw: ${(error as Error).stack}\n${files.map((f) => `--- ${f.path}\n${f.text}`).join('\n')}`);
      }
      for (const d of result.diagnostics) {
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.column).toBeGreaterThanOrEqual(1);
        expect(d.message.length).toBeGreaterThan(10);
        expect(d.rule).toMatch(/^[a-z-]+$/);
        expect(files.some((f) => f.path === d.file)).toBe(true);
      }
    }
    expect(failures).toBe(0);
  });
});
