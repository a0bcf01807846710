// The broken fixtures carry `# expect: rule, rule` on every line where a diagnostic must be
// reported. This test checks that validation reports exactly those (line, rule) pairs: no
// error is missed, none lands on another line, and nothing extra is reported.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, readDefinitionFiles, validateFiles } from '../schemas/index.js';

const root = fileURLToPath(new URL('./fixtures/broken/', import.meta.url));

async function expectations(): Promise<string[]> {
  const files = await readDefinitionFiles(['.'], root);
  const out: string[] = [];
  for (const file of files) {
    const lines = (await readFile(`${root}${file.path}`, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      const match = /# expect: (.+)$/.exec(line);
      if (match) for (const rule of (match[1] as string).split(',')) out.push(`${file.path}:${i + 1} ${rule.trim()}`);
    });
  }
  return out.sort();
}

describe('broken definitions', () => {
  it('reports every expected diagnostic at its line, and nothing else', async () => {
    const result = validateFiles(await readDefinitionFiles(['.'], root));
    const actual = result.diagnostics.map((d) => `${d.file}:${d.line} ${d.rule}`).sort();
    const expected = await expectations();
    expect(expected.length).toBeGreaterThan(40);
    expect(actual, result.diagnostics.map(formatDiagnostic).join('\n')).toEqual(expected);
  });

  it('points at the column of the offending value or key', async () => {
    const result = validateFiles(await readDefinitionFiles(['.'], root));
    const at = (rule: string, text: string) => result.diagnostics.find((d) => d.rule === rule && d.message.includes(text));
    // `needs: [build, lint]`: the column of `lint`.
    expect(at('needs-unknown', '`lint`')).toMatchObject({ file: 'pipelines.yaml', column: 22, severity: 'error' });
    // An unknown field points at its key.
    expect(at('schema', 'unknown field `colour`')).toMatchObject({ file: 'actuators.yaml', column: 3 });
    expect(at('duplicate-key', '')).toMatchObject({ file: 'syntax.yaml', line: 5, column: 1 });
    // A value inside a flow mapping: the column of the value.
    expect(at('timezone', 'Europe/Pariss')).toMatchObject({ file: 'triggers.yaml', column: 13 });
  });

  it('prints the cycle and says how to fix each problem', async () => {
    const result = validateFiles(await readDefinitionFiles(['.'], root));
    const messages = result.diagnostics.map((d) => d.message);
    expect(messages).toContain('`needs` form a cycle: loop-a → loop-b → loop-a; remove one of these needs');
    expect(messages.some((m) => m.includes('did you mean `rollout`'))).toBe(true);
    expect(result.diagnostics.find((d) => d.rule === 'expr-not-upstream')?.message).toContain('add `deploy` to its `needs`');
  });

  it('never repeats a secret value in a message', async () => {
    const result = validateFiles(await readDefinitionFiles(['.'], root));
    const text = result.diagnostics.map(formatDiagnostic).join('\n');
    expect(text).not.toContain('hunter2hunter2');
    expect(text).not.toContain('ghp_0123456789');
    expect(result.diagnostics.filter((d) => d.rule === 'secret-literal').length).toBe(5);
    expect(text).not.toContain('XXXXXXXXXXXX');
  });
});
