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

/** One object or list being walked: which of its children comes next. */
interface Level {
  container: object;
  /** An object's keys; undefined for a list. */
  keys: string[] | undefined;
  length: number;
  next: number;
  /** Its key in its parent (the root's name for the root). */
  key: string | number;
}

/** An event refused for good (400): sending it again cannot help, so a queue should drop it, not retry it. */
export class UnstorableError extends ApiError {
  constructor(message: string) {
    super(400, 'BadRequest', message);
    this.name = 'UnstorableError';
  }
}

/**
 * Refuses (UnstorableError, an ApiError 400) a value PostgreSQL cannot store or that is nested deeper than
 * `maxDepth` objects and arrays (default limits.http.maxDepth). `root` names the value in the
 * message (`body`, `type`, `labels`; '' for a whole document, whose paths then start at its
 * fields: `subject`, `body.items[3]`). Iterative: a value of any depth cannot overflow the stack.
 */
export function checkStorable(value: unknown, root: string, maxDepth: number = DEFAULT_LIMITS.http.maxDepth): void {
  const problem = findUnstorable(value, root, maxDepth);
  if (problem) throw new UnstorableError(problem);
}

/**
 * The first problem checkStorable would refuse, in document order, as its message; undefined
 * when there is none. Depth first with one entry per open level, so the memory it needs grows
 * with the depth (at most `maxDepth`), not with the size of the value.
 */
export function findUnstorable(value: unknown, root: string, maxDepth: number = DEFAULT_LIMITS.http.maxDepth): string | undefined {
  if (typeof value === 'string') {
    const bad = characterProblem(value);
    return bad && `${root || 'the document'} ${bad}`;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const levels: Level[] = [];
  const enter = (container: object, key: string | number): string | undefined => {
    if (levels.length >= maxDepth) return `${root || 'the document'} is nested deeper than ${maxDepth} levels of objects and lists (limits.http.maxDepth), at ${pathOf(levels, key)}; send a flatter document`;
    const keys = Array.isArray(container) ? undefined : Object.keys(container);
    levels.push({ container, keys, length: keys ? keys.length : (container as unknown[]).length, next: 0, key });
    return undefined;
  };
  const tooDeep = enter(value, root);
  if (tooDeep) return tooDeep;
  while (levels.length > 0) {
    const top = levels[levels.length - 1] as Level;
    if (top.next >= top.length) {
      levels.pop();
      continue;
    }
    const i = top.next++;
    let key: string | number = i;
    let child: unknown;
    if (top.keys) {
      key = top.keys[i] as string;
      const bad = characterProblem(key);
      if (bad) return `${pathOf(levels, key)} (a key) ${bad}`;
      child = (top.container as Record<string, unknown>)[key];
    } else {
      child = (top.container as unknown[])[i];
    }
    if (typeof child === 'string') {
      const bad = characterProblem(child);
      if (bad) return `${pathOf(levels, key)} ${bad}`;
    } else if (child !== null && typeof child === 'object') {
      const problem = enter(child, key);
      if (problem) return problem;
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

/** `body.items[3]["a b"]`: the open levels' keys and then `last`; built only when a problem is reported. */
function pathOf(levels: readonly Level[], last: string | number): string {
  const keys = levels.length === 0 ? [] : [...levels.slice(1).map((l) => l.key), last];
  const root = levels.length === 0 ? String(last) : String(levels[0]?.key);
  let path = root;
  for (const key of keys) {
    if (typeof key === 'number') path += `[${key}]`;
    else if (IDENTIFIER.test(key) && key.length <= 40) path += path === '' ? key : `.${key}`;
    else path += `[${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)}]`;
  }
  path ||= 'the document';
  return path.length <= MAX_PATH ? path : `${path.slice(0, MAX_PATH / 2)}…${path.slice(-MAX_PATH / 2)}`;
}
