// A guard before the `yaml` library parses a text: it parses nested collections recursively,
// and tens of thousands of `[` in a row overflow the stack (caught), after which a later parse
// in the same process has been seen to abort it (V8: "RegExpCompiler Allocation failed"). So a
// text whose brackets nest deeper than a thousand is refused first, by one linear scan.

/** Deeper than any definition or event anyone writes; far below what overflows the stack. */
export const MAX_FLOW_DEPTH = 1000;

/**
 * The offset where `[`/`{` nest deeper than `max`, or -1. Brackets inside quotes and comments are
 * counted too: an over-count only refuses a text that has a thousand unclosed brackets.
 */
export function flowTooDeep(text: string, max = MAX_FLOW_DEPTH): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return -1;
}
