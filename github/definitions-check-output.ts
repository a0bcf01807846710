// What the `eventops/definitions` check run of a commit says: its conclusion, a title, a summary
// per source (the findings, or the plan of the change against the source's active revision) and
// one annotation per error or warning at its file, line and column. Within GitHub's limits: the
// summary at most 65,535 characters (cut with a note saying so), the title 255. Pure.
import type { Diagnostic } from '../schemas/index.js';
import { secretLike } from '../schemas/index.js';
import { CHECK_TEXT_LIMIT } from './check-output.js';
import type { DefinitionsPlan, FieldChange, PlanDefinition } from './definitions-plan.js';

/** Annotations sent at most per check run (20 requests); the summary says when more were found. */
export const MAX_DEFINITION_ANNOTATIONS = 1000;

/** What was found for one source at the commit. */
export type SourceCheckResult =
  | {
      source: string;
      /** The source's `dir` ('' for the root). */
      dir: string;
      kind: 'checked';
      files: number;
      definitions: number;
      diagnostics: readonly Diagnostic[];
      errors: number;
      warnings: number;
      /** The source's active revision, or undefined when none was ever applied. */
      active?: { commit: string };
      /** Only when there are no errors (a revision with errors is never applied). */
      plan?: DefinitionsPlan;
    }
  | {
      source: string;
      dir: string;
      kind: 'failed';
      /** The SourceError's reason, e.g. `DirNotFound`, `AuthenticationFailed`, `Unreachable`. */
      reason: string;
      /** Already free of credentials. */
      message: string;
      /** The commit itself is at fault (merging it would break the source): the check fails. */
      blocking: boolean;
    };

export interface DefinitionsCheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: 'warning' | 'failure';
  title: string;
  message: string;
}

export interface DefinitionsCheckOutput {
  conclusion: 'success' | 'failure' | 'neutral';
  title: string;
  summary: string;
  annotations: DefinitionsCheckAnnotation[];
}

/**
 * The check run's content for `sha`. Conclusion: `failure` when any source has an error (or the
 * commit breaks a source, e.g. its `dir` is gone); else `neutral` when a source could not be read
 * or the commit holds no definition file at all; else `success` (warnings do not fail it).
 */
export function definitionsCheckOutput(input: { sha: string; results: readonly SourceCheckResult[] }, limit = CHECK_TEXT_LIMIT): DefinitionsCheckOutput {
  const { results } = input;
  const checked = results.filter((r) => r.kind === 'checked');
  const failed = results.filter((r) => r.kind === 'failed');
  const errors = checked.reduce((n, r) => n + r.errors, 0);
  const warnings = checked.reduce((n, r) => n + r.warnings, 0);
  const blocking = failed.filter((r) => r.blocking);
  const noFiles = checked.length > 0 && checked.every((r) => r.files === 0);

  let conclusion: DefinitionsCheckOutput['conclusion'];
  let title: string;
  if (errors > 0 || blocking.length > 0) {
    conclusion = 'failure';
    title = errors > 0 ? `${count(errors, 'error')}${warnings > 0 ? `, ${count(warnings, 'warning')}` : ''}: not applied if merged` : `${blocking[0]!.reason}: ${blocking[0]!.message}`;
  } else if (failed.length > 0) {
    conclusion = 'neutral';
    title = `Could not check source ${failed[0]!.source}: ${failed[0]!.reason}`;
  } else if (noFiles) {
    conclusion = 'neutral';
    title = 'No definition files at this commit';
  } else {
    conclusion = 'success';
    title = planTitle(checked.map((r) => r.plan), warnings);
  }

  const annotations = annotationsOf(checked.flatMap((r) => r.diagnostics));
  const sections = results.map((r) => (r.kind === 'failed' ? failedSection(r) : checkedSection(r, input.sha)));
  const head = [`Definitions at \`${input.sha.slice(0, 12)}\`, validated as eventops would reconcile them (nothing applied, no secret resolved).`, ''];
  if (annotations.length > MAX_DEFINITION_ANNOTATIONS) head.push(`Only the first ${MAX_DEFINITION_ANNOTATIONS} of ${annotations.length} findings are shown as annotations.`, '');
  const summary = clipLines([...head, ...sections.flat()].join('\n'), limit);
  return { conclusion, title: clip(title, 255), summary, annotations: annotations.slice(0, MAX_DEFINITION_ANNOTATIONS) };
}

function failedSection(r: Extract<SourceCheckResult, { kind: 'failed' }>): string[] {
  const what = r.blocking ? '❌ This commit breaks the source' : '⚠️ eventops could not read this commit';
  return [`### Source \`${cell(r.source)}\`${r.dir ? ` (\`${cell(r.dir)}/\`)` : ''}`, '', `${what}: **${cell(r.reason)}**: ${cell(r.message)}`, ''];
}

function checkedSection(r: Extract<SourceCheckResult, { kind: 'checked' }>, sha: string): string[] {
  const lines = [`### Source \`${cell(r.source)}\`${r.dir ? ` (\`${cell(r.dir)}/\`)` : ''}`, ''];
  const active = r.active ? `revision \`${r.active.commit.slice(0, 12)}\`` : undefined;
  if (r.errors > 0) {
    lines.push(
      `❌ **${count(r.errors, 'error')}**${r.warnings > 0 ? `, ${count(r.warnings, 'warning')}` : ''} in ${count(r.files, 'file')}. A revision with errors is never applied: merged as it is, ${active ? `${active} stays active` : 'the source stays without definitions'} and the source shows \`ValidationFailed\`.`,
      '',
      '| file | line | rule | message |',
      '|---|---|---|---|',
      ...r.diagnostics.map((d) => `| ${d.severity === 'error' ? '❌' : '⚠️'} ${cell(d.file)} | ${d.line}:${d.column} | ${cell(d.rule)} | ${cell(d.message)} |`),
      '',
    );
    return lines;
  }
  if (r.files === 0) lines.push(`No definition file (\`.yaml\`, \`.yml\`) under \`${cell(r.dir || '/')}\` at this commit.`, '');
  else lines.push(`✅ ${count(r.files, 'file')}, ${count(r.definitions, 'definition')} valid${r.warnings > 0 ? ` (${count(r.warnings, 'warning')})` : ''}.`, '');
  if (r.warnings > 0) {
    lines.push('| file | line | rule | message |', '|---|---|---|---|', ...r.diagnostics.map((d) => `| ⚠️ ${cell(d.file)} | ${d.line}:${d.column} | ${cell(d.rule)} | ${cell(d.message)} |`), '');
  }
  if (!r.plan) return lines;
  if (r.active?.commit === sha.toLowerCase()) {
    lines.push(`This commit is the source's active revision: merging it changes nothing.`, '');
    return lines;
  }
  lines.push(...planLines(r.plan, active), '');
  return lines;
}

/** The plan as Markdown: added, changed (with the fields), removed, and the triggers in words. */
export function planLines(plan: DefinitionsPlan, against: string | undefined): string[] {
  const { added, changed, removed, triggers } = plan;
  const base = against ? `against the active ${against}` : 'the source has no active revision yet';
  if (added.length + changed.length + removed.length === 0) return [`**Plan** (${base}): no definition changes; ${count(plan.unchanged, 'definition')} unchanged.`];
  const lines = [`**Plan** (${base}): merging would add ${added.length}, change ${changed.length} and remove ${removed.length}; ${plan.unchanged} unchanged.`, ''];
  if (added.length > 0) lines.push(`**Added** (${added.length})`, ...added.map((d) => `- ➕ ${d.kind} \`${cell(d.name)}\` — ${where(d)}`), '');
  if (changed.length > 0) lines.push(`**Changed** (${changed.length})`, ...changed.map((c) => `- ✏️ ${c.after.kind} \`${cell(c.after.name)}\` — ${c.fields.map(fieldWords).join('; ')}`), '');
  if (removed.length > 0) lines.push(`**Removed** (${removed.length})`, ...removed.map((d) => `- ➖ ${d.kind} \`${cell(d.name)}\` — was ${where(d)}`), '');
  if (triggers.length > 0) lines.push(`**Triggers**`, ...triggers.map((t) => `- trigger ${cell(t.name)}${t.change === 'changed' ? '' : ` (${t.change === 'added' ? 'new' : 'removed'})`}: ${t.words.map(cell).join('; ')}`), '');
  return lines;
}

function planTitle(plans: readonly (DefinitionsPlan | undefined)[], warnings: number): string {
  let added = 0;
  let changed = 0;
  let removed = 0;
  for (const p of plans) {
    added += p?.added.length ?? 0;
    changed += p?.changed.length ?? 0;
    removed += p?.removed.length ?? 0;
  }
  const tail = warnings > 0 ? ` (${count(warnings, 'warning')})` : '';
  if (added + changed + removed === 0) return `Valid, no definition changes${tail}`;
  return `Valid: ${added} added, ${changed} changed, ${removed} removed${tail}`;
}

/** One field change: its path, and for a short scalar its values (a credential-like value hidden). */
function fieldWords(f: FieldChange): string {
  const path = `\`${cell(f.path)}\``;
  if (f.change === 'added') return `${path} added${value(f.path, f.after, ' ')}`;
  if (f.change === 'removed') return `${path} removed`;
  const before = value(f.path, f.before, '');
  const after = value(f.path, f.after, '');
  return before && after ? `${path} ${before} → ${after}` : path;
}

function value(path: string, v: unknown, lead: string): string {
  if (v === null || !['string', 'number', 'boolean'].includes(typeof v)) return '';
  const text = String(v);
  if (text.length > 40 || text.includes('\n')) return '';
  const key = /([^.[\]"]+)"?\]?$/.exec(path)?.[1];
  if (typeof v === 'string' && secretLike(key, text)) return `${lead}(value hidden)`;
  return `${lead}\`${cell(text).replaceAll('`', "'")}\``;
}

function where(d: PlanDefinition): string {
  return `${cell(d.file)}:${d.line}`;
}

/** One annotation per distinct finding (two sources over one folder report it once). */
function annotationsOf(diagnostics: readonly Diagnostic[]): DefinitionsCheckAnnotation[] {
  const seen = new Set<string>();
  const out: DefinitionsCheckAnnotation[] = [];
  for (const d of diagnostics) {
    const key = JSON.stringify([d.file, d.line, d.column, d.rule, d.message]);
    if (seen.has(key)) continue;
    seen.add(key);
    const line = Math.max(1, d.line);
    out.push({
      path: d.file,
      start_line: line,
      end_line: line,
      ...(d.column >= 1 ? { start_column: d.column, end_column: d.column } : {}),
      annotation_level: d.severity === 'error' ? 'failure' : 'warning',
      title: `${d.severity} [${d.rule}]`,
      message: clip(d.message, 64 * 1024),
    });
  }
  return out;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Text safe in a Markdown table cell or list item. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** Whole lines up to `limit` characters, then a line saying how many were left out. */
function clipLines(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const lines = text.split('\n');
  const kept: string[] = [];
  let size = 0;
  const room = limit - 120;
  for (const line of lines) {
    if (size + line.length + 1 > room) break;
    kept.push(line);
    size += line.length + 1;
  }
  kept.push('', `… ${lines.length - kept.length} more lines left out to fit GitHub's ${limit.toLocaleString('en-US')}-character limit.`);
  return kept.join('\n');
}
