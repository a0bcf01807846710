// The starter repository (definitions-template/) and the examples of the language reference
// (docs/definitions.md) are what new users copy first, so they must validate exactly as the
// reconciler would: the template with no diagnostic at all, the documentation's complete
// definitions with no diagnostic either, checked together so that their cross references
// (triggers → pipelines, pipeline tasks → pipelines, tasks → actuators) resolve.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, readDefinitionFiles, validateFiles, type Diagnostic, type SourceFile } from '../schemas/index.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const TEMPLATE = 'definitions-template';
const DOC = 'docs/definitions.md';
const SKIP_MARK = '<!-- not-validated -->';

function report(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map(formatDiagnostic).join('\n');
}

function countKinds(kinds: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

interface YamlBlock {
  /** 1-based line of the first line inside the fence. */
  line: number;
  text: string;
  validated: boolean;
}

/** The ```yaml blocks of a Markdown text; `validated` is false when `<!-- not-validated -->` is the line before the fence. */
function yamlBlocks(markdown: string): YamlBlock[] {
  const lines = markdown.split('\n');
  const blocks: YamlBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```yaml\s*$/.test(lines[i] as string)) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${DOC}:${i + 1}: the \`\`\`yaml block is not closed`);
    blocks.push({ line: i + 2, text: lines.slice(i + 1, end).join('\n'), validated: lines[i - 1]?.trim() !== SKIP_MARK });
    i = end;
  }
  return blocks;
}

describe('definitions-template', () => {
  it('validates with no error and no warning', async () => {
    const result = validateFiles(await readDefinitionFiles([TEMPLATE], root));
    expect(result.diagnostics, report(result.diagnostics)).toEqual([]);
    expect(countKinds(result.definitions.map((d) => d.kind))).toEqual({ Actuator: 1, Pipeline: 3, Trigger: 5, Event: 3 });
    expect(result.definitions.filter((d) => d.legacy)).toEqual([]);
  });

  it('points every file at the published JSON Schema of its kind', async () => {
    const files = await readDefinitionFiles([TEMPLATE], root);
    const result = validateFiles(files);
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const file of files) {
      const match = /^# yaml-language-server: \$schema=(\S+)\n/.exec(file.text);
      expect(match, `${file.path} must start with a yaml-language-server comment`).not.toBeNull();
      const schema = (match as RegExpExecArray)[1] as string;
      expect(existsSync(join(root, dirname(file.path), schema)), `${file.path}: ${schema} does not exist`).toBe(true);
      for (const def of result.definitions.filter((d) => d.file === file.path)) {
        expect(schema, `${file.path}:${def.line}`).toBe(`../../schemas/${def.kind.toLowerCase()}.schema.json`);
      }
    }
  });

  it('has a commented-out ssh actuator that validates once uncommented', async () => {
    const files = await readDefinitionFiles([TEMPLATE], root);
    const example = files.find((f) => f.path.endsWith('build-host.yaml')) as SourceFile;
    expect(example).toBeDefined();
    const lines = example.text.split('\n');
    const start = lines.findIndex((l) => l.startsWith('# apiVersion:'));
    expect(start).toBeGreaterThan(0);
    const uncommented = lines.slice(start).map((l) => l.replace(/^# ?/, '')).join('\n');
    const result = validateFiles([...files.filter((f) => f !== example), { path: example.path, text: uncommented }]);
    expect(result.diagnostics, report(result.diagnostics)).toEqual([]);
    expect(result.definitions.find((d) => d.name === 'build-host')?.kind).toBe('Actuator');
  });
});

describe(DOC, () => {
  it('has only complete examples that validate together, with no error and no warning', async () => {
    const markdown = await readFile(join(root, DOC), 'utf8');
    const all = yamlBlocks(markdown);
    // A block that is not a complete definition must say so, so that none is skipped by accident.
    for (const b of all) {
      if (b.validated) expect(b.text, `${DOC}:${b.line}: mark partial blocks with ${SKIP_MARK}`).toMatch(/^\s*apiVersion:/m);
    }
    const blocks = all.filter((b) => b.validated);
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    // Blank lines in front keep line numbers equal to the document's, so a diagnostic such as
    // `docs/definitions.md#block-3-line-120:125:7` names the line to fix in the Markdown file.
    const files: SourceFile[] = blocks.map((b, n) => ({
      path: `${DOC}#block-${n + 1}-line-${b.line}`,
      text: `${'\n'.repeat(b.line - 1)}${b.text}\n`,
    }));
    const result = validateFiles(files);
    expect(result.errors, report(result.diagnostics)).toBe(0);
    expect(result.diagnostics, report(result.diagnostics)).toEqual([]);
    // Every block holds at least one definition, and every kind is shown.
    for (const file of files) expect(result.definitions.some((d) => d.file === file.path), `${file.path} holds no definition`).toBe(true);
    expect(Object.keys(countKinds(result.definitions.map((d) => d.kind))).sort()).toEqual(['Actuator', 'Event', 'Pipeline', 'Trigger']);
  });

  it('lists exactly the validation rules that the validator can report, one table row each', async () => {
    const markdown = await readFile(join(root, DOC), 'utf8');
    const rules = await ruleIds();
    expect(rules.length).toBeGreaterThanOrEqual(30);
    const table = markdown.slice(markdown.indexOf('## 11. Validation rules'));
    const rows = [...table.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1] as string);
    expect([...rows].sort(), 'the rule table of docs/definitions.md').toEqual(rules);
  });
});

/**
 * Rule ids the validator, loader and converter can report, read from their sources: the first
 * top-level string argument of every `report(…)` call and of every `at([path], …)` call, and the
 * strings after `rule:`.
 */
async function ruleIds(): Promise<string[]> {
  const found = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        const text = await readFile(join(root, path), 'utf8');
        for (const m of text.matchAll(/\b(?:report\(|at\((?=\[))/g)) {
          const id = firstTopLevelString(text, (m.index as number) + m[0].length);
          if (id !== undefined && RULE_ID.test(id)) found.add(id);
        }
        for (const m of text.matchAll(/\brule: ([^,}\n]+)/g)) {
          for (const s of (m[1] as string).matchAll(/'([^']*)'/g)) if (RULE_ID.test(s[1] as string)) found.add(s[1] as string);
        }
      }
    }
  };
  for (const dir of ['schemas/validate', 'schemas/loader', 'schemas/legacy']) await walk(dir);
  return [...found].sort();
}

const RULE_ID = /^[a-z]+(?:-[a-z]+)*$/;

/** The first single-quoted string at the top level of the argument list that starts at `from`. */
function firstTopLevelString(text: string, from: number): string | undefined {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "'" || c === '"' || c === '`') {
      const end = closingQuote(text, i);
      if (c === "'" && depth === 0) return text.slice(i + 1, end);
      i = end;
    } else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) {
      if (depth === 0) return undefined;
      depth--;
    }
  }
  return undefined;
}

function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return text.length;
}
