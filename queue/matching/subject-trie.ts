// NATS-style subject patterns in a trie, so finding the patterns a subject matches costs the
// subject's length, not the number of patterns. Subjects are tokens separated by `.`; in a
// pattern `*` is exactly one token and `>` (last only) one or more tokens. Wildcards never
// match an empty token: `a..b` is not a subject a sender means.

interface TrieNode<T> {
  children: Map<string, TrieNode<T>>;
  star?: TrieNode<T>;
  /** Values whose pattern ends here. */
  here: T[];
  /** Values whose pattern ends here with `>`. */
  rest: T[];
}

function node<T>(): TrieNode<T> {
  return { children: new Map(), here: [], rest: [] };
}

export class SubjectTrie<T> {
  private readonly root: TrieNode<T> = node();
  private count = 0;

  /** Adds `value` under `pattern`; the pattern is assumed valid (rule `subject-pattern`). */
  insert(pattern: string, value: T): void {
    let at = this.root;
    const tokens = pattern.split('.');
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as string;
      if (token === '>' && i === tokens.length - 1) {
        at.rest.push(value);
        this.count++;
        return;
      }
      if (token === '*') {
        at.star ??= node();
        at = at.star;
        continue;
      }
      let next = at.children.get(token);
      if (!next) {
        next = node();
        at.children.set(token, next);
      }
      at = next;
    }
    at.here.push(value);
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** Adds to `found` (once each) the values whose pattern matches `subject`. */
  match(subject: string, found: T[]): void {
    if (this.count === 0) return;
    const tokens = subject.split('.');
    walk(this.root, tokens, tokens.lastIndexOf(''), 0, found);
  }
}

/** `lastEmpty`: the index of the subject's last empty token, or -1. */
function walk<T>(at: TrieNode<T>, tokens: readonly string[], lastEmpty: number, i: number, found: T[]): void {
  if (i === tokens.length) {
    for (const v of at.here) found.push(v);
    return;
  }
  const token = tokens[i] as string;
  // `>` needs at least one more token, and every one of them non-empty.
  if (at.rest.length > 0 && lastEmpty < i) for (const v of at.rest) found.push(v);
  const exact = at.children.get(token);
  if (exact) walk(exact, tokens, lastEmpty, i + 1, found);
  if (at.star && token !== '') walk(at.star, tokens, lastEmpty, i + 1, found);
}

/** Whether one pattern matches one subject, without a trie (for explaining a non-match). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i] as string;
    if (token === '>' && i === p.length - 1) return s.length > i && s.slice(i).every((t) => t !== '');
    const actual = s[i];
    if (actual === undefined) return false;
    if (token === '*' ? actual === '' : token !== actual) return false;
  }
  return p.length === s.length;
}
