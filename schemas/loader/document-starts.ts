// Where each document of a multi-document YAML file starts, found by scanning lines for
// `---` and `...` markers instead of parsing. It gives a definition's own position (which
// every stored definition carries) without the slower position-keeping parse.
import type { Position } from './diagnostic.js';

const START = /^---(?=\s|$)/;
const END = /^\.\.\.(?=\s|$)/;
const NOTHING = /^\s*(#.*)?$/;

/**
 * One entry per document, in the order a YAML loader returns them: the position of the
 * document's first content, or undefined for an empty document.
 */
export function documentStarts(text: string): (Position | undefined)[] {
  const out: (Position | undefined)[] = [];
  let open = false;
  let start: Position | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (START.test(line)) {
      if (open) out.push(start);
      open = true;
      const rest = line.slice(3);
      start = NOTHING.test(rest) ? undefined : { line: i + 1, column: 4 + rest.search(/\S/) };
      continue;
    }
    if (END.test(line)) {
      if (open) out.push(start);
      open = false;
      start = undefined;
      continue;
    }
    if (NOTHING.test(line)) continue;
    if (!open) {
      if (line.startsWith('%')) continue; // a directive before `---`
      open = true;
    }
    start ??= { line: i + 1, column: line.search(/\S/) + 1 };
  }
  if (open) out.push(start);
  return out;
}
