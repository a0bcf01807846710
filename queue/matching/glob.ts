// Shell-style wildcards for `match: glob` filters, as in a shell's `case` patterns: `*` is any
// text (a `/` too), `?` one character, `[abc]`/`[a-z]` one of a set and `[!abc]` one not in
// it. The whole value must match. Anything else is itself. Matched by the two-pointer wildcard
// algorithm (on a mismatch, go back to the last `*` only), never by a regular expression: the
// value comes from an event anyone may send, and `*-*-*-*-prod` as a backtracking regex over a
// ref of 400 dashes ran for 15 s on the event loop. Here the worst case is length × pattern.

type Token = { kind: 'star' } | { kind: 'one'; test: (cp: number) => boolean };

export interface Glob {
  readonly source: string;
  /** Whether all of `text` matches, in O(text × pattern) at worst. */
  test(text: string): boolean;
}

/** Compiles `glob`; throws on a set with a range out of order (`[z-a]`). */
export function compileGlob(glob: string): Glob {
  const tokens = tokenize(glob);
  // `**` is `*`: folding runs keeps the backtracking to the last star simple.
  const folded = tokens.filter((t, i) => !(t.kind === 'star' && tokens[i - 1]?.kind === 'star'));
  return { source: glob, test: (text) => matches(folded, codePoints(text)) };
}

function tokenize(glob: string): Token[] {
  const out: Token[] = [];
  const chars = Array.from(glob);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') out.push({ kind: 'star' });
    else if (c === '?') out.push({ kind: 'one', test: () => true });
    else if (c === '[') {
      // The set runs to the next `]` after at least one member, so `[]a]` holds `]` and `a`.
      const end = chars.indexOf(']', i + 2);
      if (end < 0) {
        out.push(literal('['));
        continue;
      }
      out.push(set(chars.slice(i + 1, end), glob));
      i = end;
    } else out.push(literal(c));
  }
  return out;
}

function literal(c: string): Token {
  const cp = c.codePointAt(0) as number;
  return { kind: 'one', test: (x) => x === cp };
}

function set(members: string[], glob: string): Token {
  const negated = members[0] === '!' || members[0] === '^';
  const body = negated ? members.slice(1) : members;
  const ranges: [number, number][] = [];
  for (let i = 0; i < body.length; i++) {
    const from = (body[i] as string).codePointAt(0) as number;
    // `a-z` is a range; a `-` first or last is itself.
    if (body[i + 1] === '-' && i + 2 < body.length) {
      const to = (body[i + 2] as string).codePointAt(0) as number;
      if (to < from) throw new Error(`glob ${JSON.stringify(glob)}: range ${body[i] as string}-${body[i + 2] as string} is out of order; write the lower end first`);
      ranges.push([from, to]);
      i += 2;
    } else ranges.push([from, from]);
  }
  const inSet = (cp: number) => ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
  return { kind: 'one', test: negated ? (cp) => !inSet(cp) : inSet };
}

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const c of text) out.push(c.codePointAt(0) as number);
  return out;
}

/**
 * Classic wildcard matching: walk text and pattern together; at a `*` remember where it was
 * and first let it match nothing; on a mismatch let the last `*` take one more character. An
 * earlier `*` never needs to take more (the last one can absorb anything it would), so this is
 * O(text × pattern) with no exponential case.
 */
function matches(tokens: readonly Token[], text: readonly number[]): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const token = tokens[p];
    if (token?.kind === 'one' && token.test(text[t] as number)) {
      p++;
      t++;
    } else if (token?.kind === 'star') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else return false;
  }
  while (tokens[p]?.kind === 'star') p++;
  return p === tokens.length;
}
