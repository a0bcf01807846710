// A diagnostic is one finding about a definition file: where (file:line:column), how bad
// (error or warning), which rule, and a message that says how to fix it.
export type Severity = 'error' | 'warning';

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  rule: string;
  message: string;
}

export interface Position {
  line: number;
  column: number;
}

/** Orders diagnostics by file, then line, then column, so output is stable. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule),
  );
}

/** `file:line:col: error: message [rule]`, the format editors and CI annotators understand. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.rule}]`;
}

/** Longest message text taken from a parser: its first line, so a file's content is never echoed beyond the offending line. */
const MAX_QUOTED = 200;

/**
 * The first line of a parser's message, at most 200 characters. Parser messages may quote the
 * source (a file that is not YAML at all, say a symlinked secret), and diagnostics are shown to
 * anyone with a read token, so no more than a piece of the offending line gets through.
 */
export function firstLineOf(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  return line.length > MAX_QUOTED ? `${line.slice(0, MAX_QUOTED)}…` : line;
}
