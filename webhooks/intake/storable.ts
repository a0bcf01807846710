// What PostgreSQL can store of an event, checked before anything tries: text and jsonb refuse a
// NUL character (\u0000) and a lone UTF-16 surrogate (JSON's "\ud800" with no partner), and a
// value nested thousands deep overflows the stack of JSON.stringify and of the database's own
// parser. One iterative walk finds the first such thing and says where it is (`body.items[3]`),
// so every intake answers 400 naming the field instead of a 500 from the INSERT.
import { DEFAULT_LIMITS } from '../../config/index.js';
import { ApiError } from '../api/index.js';

/** A character PostgreSQL cannot store: a NUL, or a surrogate without its partner. */
// eslint-disable-next-line no-control-regex -- the NUL character is exactly what is looked for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

interface Frame {
  value: unknown;
  /** Objects and arrays from the root down to this value, this one included. */
  depth: number;
  parent: Frame | undefined;
  key: string | number;
}

/**
 * Refuses (ApiError 400) a value PostgreSQL cannot store or that is nested deeper than
 * `maxDepth` objects and arrays (default limits.http.maxDepth). `root` names the value in the
 * message (`body`, `type`, `labels`; '' for a whole document, whose paths then start at its
 * fields: `subject`, `body.items[3]`). Iterative: a value of any depth cannot overflow the stack.
 */
export function checkStorable(value: unknown, root: string, maxDepth: number = DEFAULT_LIMITS.http.maxDepth): void {
  const problem = findUnstorable(value, root, maxDepth);
  if (problem) throw new ApiError(400, 'BadRequest', problem);
}

/** The first problem checkStorable would refuse, as its message; undefined when there is none. */
export function findUnstorable(value: unknown, root: string, maxDepth: number = DEFAULT_LIMITS.http.maxDepth): string | undefined {
  const stack: Frame[] = [{ value, depth: 0, parent: undefined, key: root }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const v = frame.value;
    if (typeof v === 'string') {
      const bad = characterProblem(v);
      if (bad) return `${pathOf(frame)} ${bad}`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const depth = frame.depth + 1;
    if (depth > maxDepth) return `${root || 'the document'} is nested deeper than ${maxDepth} levels of objects and lists (limits.http.maxDepth), at ${pathOf(frame)}; send a flatter document`;
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((item, i) => [i, item]) : Object.entries(v as Record<string, unknown>);
    // Pushed in reverse, so the first problem in document order is the one reported.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i] as [string | number, unknown];
      if (typeof key === 'string') {
        const bad = characterProblem(key);
        if (bad) return `${pathOf({ value: item, depth, parent: frame, key })} (a key) ${bad}`;
      }
      stack.push({ value: item, depth, parent: frame, key });
    }
  }
  return undefined;
}

/** What is wrong with a text, or undefined when PostgreSQL can store it. */
function characterProblem(text: string): string | undefined {
  const m = UNSTORABLE.exec(text);
  if (!m) return undefined;
  const what = m[0] === '\u0000' ? 'a NUL character (\\u0000)' : `a lone surrogate (\\u${(m[0].codePointAt(0) ?? 0).toString(16)}, half of a UTF-16 pair without its other half)`;
  return `contains ${what} at character ${m.index}, which cannot be stored; remove it or encode the data (e.g. base64)`;
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;
/** Longest path shown: a deep one keeps its start and end. */
const MAX_PATH = 160;

/** `body.items[3]["a b"]`, built only when a problem is reported. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f; f = f.parent) {
    if (!f.parent) parts.push(String(f.key));
    else if (!f.parent.parent && f.parent.key === '' && typeof f.key === 'string' && IDENTIFIER.test(f.key)) parts.push(f.key);
    else if (typeof f.key === 'number') parts.push(`[${f.key}]`);
    else if (IDENTIFIER.test(f.key) && f.key.length <= 40) parts.push(`.${f.key}`);
    else parts.push(`[${JSON.stringify(f.key.length > 40 ? `${f.key.slice(0, 40)}…` : f.key)}]`);
  }
  const path = parts.reverse().join('') || 'the document';
  return path.length <= MAX_PATH ? path : `${path.slice(0, MAX_PATH / 2)}…${path.slice(-MAX_PATH / 2)}`;
}
