// How `eventops sources` prints for people: the list as a table, one source as a block, the
// outcome of a reconcile. Pure functions over the API's JSON and the current time.
import type { Condition, ReconcileAttempt } from '../../schemas/database/index.js';
import type { ReconcileResult } from '../../reconciler/index.js';
import type { DiagnosticItem, SourceDetail, SourceSummary } from '../../webhooks/index.js';

const MESSAGE_WIDTH = 60;
const HISTORY_SHOWN = 10;

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map((r) => `${line(r)}\n`).join('');
}

/** A commit shortened to 12 characters; a folder's `sha256:` prefix is dropped first. */
export function shortRevision(commit: string): string {
  return commit.replace(/^sha256:/, '').slice(0, 12);
}

/** `42s ago`, `5m ago`, `3h ago`, `2d ago`; `never` without a time. */
export function formatAge(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

function truncate(text: string, width: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= width ? oneLine : `${oneLine.slice(0, width - 1)}…`;
}

function readyCondition(conditions: readonly Condition[]): Condition | undefined {
  return conditions.find((c) => c.type === 'Ready');
}

export function formatSourceList(items: readonly SourceSummary[], nowMs: number): string {
  if (items.length === 0) return 'no sources\n';
  const rows = items.map((s) => [
    s.name,
    s.type,
    s.ready,
    s.activeRevision ? shortRevision(s.activeRevision.commit) : '-',
    formatAge(s.lastAttemptAt, nowMs),
    truncate(readyCondition(s.conditions)?.message ?? '', MESSAGE_WIDTH),
  ]);
  return formatTable(['NAME', 'TYPE', 'READY', 'REVISION', 'LAST ATTEMPT', 'MESSAGE'], rows);
}

/** `file:line:column: error: message [rule]`, as `eventops validate` prints it. */
export function formatFinding(d: DiagnosticItem, severity: 'error' | 'warning'): string {
  return `${d.file}:${d.line}:${d.column}: ${severity}: ${d.message} [${d.rule}]`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatSourceDetail(s: SourceDetail, nowMs: number): string {
  const out: string[] = [];
  const field = (label: string, value: string) => out.push(`${`${label}:`.padEnd(17)}${value}`);
  const ready = readyCondition(s.conditions);
  field('Name', s.name);
  field('Type', s.type);
  field('Location', s.location);
  if (s.ref !== null) field('Ref', s.ref);
  field('Dir', s.dir || '(root)');
  field('Ready', ready ? `${ready.status} (${ready.reason})` : 'Unknown (never reconciled)');
  field('Last attempt', s.lastAttemptAt ? `${s.lastAttemptAt} (${formatAge(s.lastAttemptAt, nowMs)})` : 'never');
  const active = s.activeRevision;
  field(
    'Active revision',
    active
      ? `${active.commit}, applied ${active.appliedAt}: ${plural(active.fileCount, 'file')}, ${plural(active.definitionCount, 'definition')}, ${plural(active.warningCount, 'warning')}`
      : 'none (no revision has applied yet)',
  );
  const last = s.lastRevision;
  if (last && last.id !== active?.id) {
    field('Last revision', `${last.commit}, ${last.status} ${last.createdAt}: ${plural(last.errorCount, 'error')}, ${plural(last.warningCount, 'warning')}`);
  }
  if (s.conditions.length > 0) {
    out.push('', 'Conditions:');
    const rows = s.conditions.map((c) => [c.type, c.status, c.reason, c.message]);
    out.push(...indent(formatTable(['TYPE', 'STATUS', 'REASON', 'MESSAGE'], rows)));
  }
  if (last && (last.errors.length > 0 || last.warnings.length > 0)) {
    out.push('', `Findings in revision ${shortRevision(last.commit)}:`);
    for (const e of last.errors) out.push(`  ${formatFinding(e, 'error')}`);
    for (const w of last.warnings) out.push(`  ${formatFinding(w, 'warning')}`);
  }
  if (s.history.length > 0) {
    out.push('', 'History:');
    out.push(...indent(formatTable(['AT', 'OUTCOME', 'REVISION', 'REASON', 'MESSAGE'], s.history.slice(0, HISTORY_SHOWN).map(historyRow))));
  }
  return `${out.join('\n')}\n`;
}

function historyRow(h: ReconcileAttempt): string[] {
  return [h.at, h.outcome, h.revision ? shortRevision(h.revision) : '-', h.reason, truncate(h.message, MESSAGE_WIDTH)];
}

function indent(block: string): string[] {
  return block
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);
}

/** Two lines: what the reconcile did and with which revision, then the Ready condition. */
export function formatReconcileResult(r: ReconcileResult): string {
  const ready = readyCondition(r.conditions);
  const revision = r.revision ? ` (revision ${shortRevision(r.revision)})` : '';
  const readyLine = ready ? `Ready: ${ready.status} (${ready.reason}): ${ready.message}` : 'Ready: Unknown';
  return `reconcile of ${r.source}: ${r.outcome}${revision} in ${r.durationMs} ms\n${readyLine}\n`;
}
