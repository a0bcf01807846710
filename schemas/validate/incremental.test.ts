// An incremental pass must find exactly what a full pass finds: each case edits a repository
// (the starter template), validates the edit incrementally against the previous pass (reusing
// the ParsedFile objects of unchanged files) and compares with validating from scratch.
import { describe, expect, it } from 'vitest';
import { readDefinitionFiles } from '../loader/index.js';
import type { SourceFile } from '../loader/index.js';
import { parseDefinitionFile, validateFiles, validateParsed, type IncrementalResult, type ParsedFile } from './validate-files.js';

const template = await readDefinitionFiles(['definitions-template']);

/** Validates `next` incrementally after `before`, reusing parsed files whose text did not change. */
function step(before: { files: SourceFile[]; parsed: ParsedFile[]; result: IncrementalResult }, next: SourceFile[]) {
  const byPath = new Map(before.files.map((f, i) => [f.path, { text: f.text, parsed: before.parsed[i] as ParsedFile }]));
  const parsed = next.map((f) => {
    const old = byPath.get(f.path);
    return old && old.text === f.text && !before.result.rewritten.has(old.parsed) ? old.parsed : parseDefinitionFile(f);
  });
  return { files: next, parsed, result: validateParsed(parsed, before.result.state) };
}

function start(files: SourceFile[]) {
  const parsed = files.map((f) => parseDefinitionFile(f));
  return { files, parsed, result: validateParsed(parsed) };
}

const edit = (files: SourceFile[], path: string, change: (text: string) => string | null): SourceFile[] =>
  files.flatMap((f) => {
    if (!f.path.endsWith(path)) return [f];
    const text = change(f.text);
    return text === null ? [] : [{ ...f, text }];
  });

const same = (incremental: IncrementalResult, files: SourceFile[]) => {
  const full = validateFiles(files);
  expect(incremental.diagnostics).toEqual(full.diagnostics);
  expect(incremental.errors).toBe(full.errors);
};

describe('incremental validation', () => {
  it('checks only the changed file when nothing refers to it', () => {
    const first = start(template);
    expect(first.result.errors).toBe(0);
    const next = edit(template, 'actuators/local.yaml', (t) => t.replace('tags:', 'tags: # edited\n   '));
    const second = step(first, next);
    expect(second.result.checked).toBe(1);
    same(second.result, next);
  });

  it('re-checks triggers that call a renamed pipeline, and clears the error when it comes back', () => {
    const first = start(template);
    const renamed = edit(template, 'pipelines/hello-world.yaml', (t) => t.replace('name: hello-world', 'name: hello-planet'));
    const second = step(first, renamed);
    expect(second.result.diagnostics.map((d) => d.rule)).toContain('pipeline-unknown');
    same(second.result, renamed);
    const third = step(second, template);
    expect(third.result.errors).toBe(0);
    same(third.result, template);
  });

  it('follows an input that changes type under a trigger that passes it a literal', () => {
    const first = start(template);
    const typed = edit(template, 'pipelines/hello-world.yaml', (t) => t.replace(/name: greeting\n(\s+)type: string/, 'name: greeting\n$1type: number'));
    const second = step(first, typed);
    same(second.result, typed);
    const third = step(second, template);
    same(third.result, template);
  });

  it('handles removed files, duplicates and syntax errors like a full pass', () => {
    let state = start(template);
    const removed = edit(template, 'pipelines/rollout.yaml', () => null);
    state = step(state, removed);
    same(state.result, removed);
    const duplicate = [...removed, { path: 'pipelines/copy.yaml', text: removed.find((f) => f.path.endsWith('hello-world.yaml'))?.text ?? '' }];
    state = step(state, duplicate);
    expect(state.result.diagnostics.map((d) => d.rule)).toContain('unique-name');
    same(state.result, duplicate);
    const broken = edit(duplicate, 'triggers/hello.yaml', (t) => `${t}\n  : : bad`);
    state = step(state, broken);
    same(state.result, broken);
    state = step(state, template);
    same(state.result, template);
    expect(state.result.errors).toBe(0);
  });
});
