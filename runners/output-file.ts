// Parses the file a task writes its outputs to (`$EVENTOPS_OUTPUT`), in the format of GitHub
// Actions' `$GITHUB_OUTPUT`: `name=value` lines, or a `name<<DELIMITER` line, the value's lines,
// and a line holding only DELIMITER. Values are taken as written: nothing is expanded or trimmed.
// A later line for the same name wins, as on GitHub.

/** Output names, as in the definition language (`VariableName`). */
const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export type ParsedOutputs = { ok: true; outputs: Record<string, string> } | { ok: false; error: string };

/** The outputs in `text`, or the first problem with its line number. */
export function parseOutputFile(text: string): ParsedOutputs {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  const outputs: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const at = `line ${i + 1}`;
    const equals = line.indexOf('=');
    const heredoc = line.indexOf('<<');
    if (heredoc !== -1 && (equals === -1 || heredoc < equals)) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      if (!OUTPUT_NAME.test(name)) return { ok: false, error: `${at}: "${name}" is not an output name (letters, digits, _ and -)` };
      if (delimiter === '') return { ok: false, error: `${at}: "${name}<<" needs a delimiter after <<` };
      const end = lines.indexOf(delimiter, i + 1);
      if (end === -1) return { ok: false, error: `${at}: no line "${delimiter}" closes the value of "${name}"` };
      outputs[name] = lines.slice(i + 1, end).join('\n');
      i = end;
      continue;
    }
    if (equals === -1) return { ok: false, error: `${at}: expected name=value or name<<DELIMITER` };
    const name = line.slice(0, equals);
    if (!OUTPUT_NAME.test(name)) return { ok: false, error: `${at}: "${name}" is not an output name (letters, digits, _ and -)` };
    outputs[name] = line.slice(equals + 1);
  }
  return { ok: true, outputs };
}
