// `eventops test-event -f EVENT [--definitions DIR]`: matches one event against a folder of
// definitions on this machine — no server, no database — with the same matching code the
// server runs, and prints each trigger's verdict and reason, the runs that would start and
// their inputs. Exit 0 when a trigger matched, 1 when none did or the definitions are invalid,
// 2 when the command was called wrongly or the file is not an event.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  buildTriggerIndex,
  commandsOf,
  eventFromDefinition,
  eventFromGithub,
  EventShapeError,
  matchEvent,
  type MatchResult,
  type NormalizedEvent,
  type TriggerIndex,
  type TriggerVerdict,
} from '../../queue/matching/index.js';
import { formatDiagnostic, parseYamlFile, validateFiles, type Diagnostic, type Pipeline, type Trigger } from '../../schemas/index.js';
import { serialize, UsageError, type Io, type OutputFormat } from '../output.js';
import { readInputs } from '../read-inputs.js';

export interface TestEventOptions {
  /** The event file: a v1 Event, the same fields as JSON, a CloudEvents envelope, or with `githubEvent` a GitHub payload. */
  file: string;
  /** The definitions folder; default `.`. */
  definitions?: string;
  /** The file is a raw GitHub webhook payload of this event (`push`, `issue_comment`, …). */
  githubEvent?: string;
  output: OutputFormat;
}

/** The definitions source name the offline match uses. */
const SOURCE = 'local';

export async function testEventCommand(options: TestEventOptions, io: Io, now: () => Date = () => new Date()): Promise<number> {
  // The event first: a file that is not one is a usage error, whatever the definitions say.
  const event = await readEvent(options, io, now);
  const folder = options.definitions ?? '.';
  const files = await readInputs([folder], io.cwd);
  const checked = validateFiles(files);
  if (checked.errors > 0) return reportInvalid(checked.diagnostics, files.length, checked.definitions.length, options.output, io);
  if (options.output === 'table') for (const d of checked.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  if (files.length === 0) io.err(`no .yaml or .yml files found in ${folder}\n`);

  const triggers = checked.definitions.filter((d) => d.kind === 'Trigger').map((d) => ({ source: SOURCE, trigger: d.value as Trigger }));
  const pipelines = new Map(checked.definitions.filter((d) => d.kind === 'Pipeline').map((d) => [d.name, d.value as Pipeline]));
  const index = buildTriggerIndex(triggers);
  const result = matchEvent(index, event, (_source, name) => pipelines.get(name), { explain: true });
  result.verdicts.sort((a, b) => a.trigger.localeCompare(b.trigger));
  const matched = result.verdicts.filter((v) => v.verdict === 'matched').length;

  if (options.output === 'json' || options.output === 'yaml') {
    io.out(serialize({ event: { ...event, receivedAt: event.receivedAt.toISOString() }, matched, verdicts: result.verdicts, runs: result.runs }, options.output));
  } else {
    printTable(event, result, matched, io);
    if (matched === 0 && wouldListenAsGithub(index, event)) {
      io.out('  (an Event file arrives with source api; to test it as a GitHub webhook, add --github-event NAME, e.g. --github-event push)\n');
    }
  }
  return matched > 0 ? 0 : 1;
}

function reportInvalid(diagnostics: Diagnostic[], files: number, definitions: number, output: OutputFormat, io: Io): number {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (output === 'json' || output === 'yaml') {
    io.out(serialize({ valid: false, files, definitions, errors, warnings, diagnostics }, output));
  } else {
    for (const d of diagnostics) io.out(`${formatDiagnostic(d)}\n`);
    io.out(`✗ ${plural(files, 'file')}, ${plural(definitions, 'definition')}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}; fix the definitions before testing events\n`);
  }
  return 1;
}

/** Reads and normalises the event file; anything that is not one event is a usage error. */
async function readEvent(options: TestEventOptions, io: Io, now: () => Date): Promise<NormalizedEvent> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, options.file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${options.file}: no such file` : `${options.file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const source = { path: options.file, text };
  const parsed = parseYamlFile(source);
  if (parsed.diagnostics.length > 0) throw new UsageError(parsed.diagnostics.map(formatDiagnostic).join('\n'));
  if (parsed.documents.length !== 1) {
    throw new UsageError(`${options.file}: holds ${parsed.documents.length} documents; give one event per file`);
  }
  let value = (parsed.documents[0] as { value: unknown }).value;
  const isEventDocument = isRecord(value) && value.kind === 'Event';
  if (isEventDocument) {
    // Validated like any definition file, which also keeps label text as written (`1.0`).
    const checked = validateFiles([source]);
    const errors = checked.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) throw new UsageError(errors.map(formatDiagnostic).join('\n'));
    value = checked.definitions[0]?.value ?? value;
  }
  const arrival = { id: `test-${randomUUID()}`, receivedAt: now() };
  try {
    if (options.githubEvent !== undefined) {
      // A sample Event file holds the payload's shape in `body`: test it as that GitHub event.
      const payload = isEventDocument && isRecord(value) ? value.body : value;
      return eventFromGithub(payload, { event: options.githubEvent }, arrival);
    }
    return eventFromDefinition(value, arrival);
  } catch (error) {
    if (error instanceof EventShapeError) throw new UsageError(`${options.file}: ${error.message}`);
    throw error;
  }
}

function printTable(event: NormalizedEvent, result: MatchResult, matched: number, io: Io): void {
  const about = [`source ${event.source}`, `type ${event.type}`];
  if (event.action !== undefined) about.push(`action ${event.action}`);
  if (event.subject !== undefined) about.push(`subject ${event.subject}`);
  io.out(`event: ${about.join(', ')}\n\n`);

  const rows = result.verdicts.map((v) => [v.trigger, v.verdict, v.reason]);
  const widths = [0, 1].map((i) => Math.max(i === 0 ? 'TRIGGER'.length : 'VERDICT'.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) => `${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c)).join('  ')}`.trimEnd();
  io.out(`${line(['TRIGGER', 'VERDICT', 'REASON'])}\n`);
  for (const v of result.verdicts) {
    io.out(`${line([v.trigger, v.verdict, v.reason])}\n`);
    for (const f of filterLines(v)) io.out(`    ${f}\n`);
  }

  if (result.runs.length > 0) {
    io.out(`\nwould start ${plural(result.runs.length, 'run')}:\n`);
    for (const run of result.runs) {
      const notes = [`trigger ${run.trigger}`];
      if (run.dedupeKey !== undefined) notes.push(`dedupe key ${JSON.stringify(run.dedupeKey)}`);
      if (run.requiredPermission !== undefined) notes.push(`needs ${run.requiredPermission} permission`);
      io.out(`  ${run.pipeline} (${notes.join(', ')})\n`);
      const names = Object.keys(run.inputs);
      const width = Math.max(0, ...names.map((n) => n.length));
      for (const name of names) io.out(`    ${name.padEnd(width)}  ${JSON.stringify(run.inputs[name])}\n`);
    }
  }
  const total = result.verdicts.length;
  const failed = result.verdicts.filter((v) => v.verdict === 'inputs-failed').length;
  const failedNote = failed > 0 ? ` (${plural(failed, 'trigger')} failed on inputs)` : '';
  io.out(matched > 0 ? `\n✓ ${matched} of ${plural(total, 'trigger')} matched${failedNote}\n` : `\n✗ none of ${plural(total, 'trigger')} matched${failedNote}\n`);
}

/** An API event that a GitHub trigger would take if it came from GitHub: the author likely meant that. */
function wouldListenAsGithub(index: TriggerIndex, event: NormalizedEvent): boolean {
  if (event.source !== 'api') return false;
  const asGithub = { ...event, source: 'github' };
  const commands = commandsOf(asGithub);
  return index.triggers.some((t) => t.eventSource === 'github' && index.whyNot(t, asGithub, commands) === undefined);
}

/** Under a candidate, each filter evaluated; the reason column already says the deciding one. */
function filterLines(v: TriggerVerdict): string[] {
  if (!v.filters || v.filters.length < 2) return [];
  return v.filters.map((f) => `${f.holds ? '✓' : '✗'} ${f.reason}`);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
