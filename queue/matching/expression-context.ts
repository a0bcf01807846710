// Expressions see only the parts of the event they read. The CEL helpers copy their whole
// context on every evaluation (to turn numbers into CEL integers), and a GitHub payload is tens
// of kilobytes: copying it for each of a hundred candidate triggers would cost milliseconds.
// So each expression's references (`body.issue.pull_request`) are collected once, when the
// trigger is compiled, and each evaluation gets a context holding just those subtrees. A path
// the collector cannot follow (`body[k]`) keeps its whole root: the projection never drops
// anything an expression could read.
import { collectReferences, compileExpression, hasTemplate, parseTemplate, type Scope } from '../../schemas/index.js';

/** `true`: the whole value; a map: only these keys, each projected in turn. */
export type PathTree = true | Map<string, PathTree>;

/** The root names and paths the expressions `sources` read, as a tree; undefined: read everything. */
export function referencedPaths(sources: readonly string[], scope: Scope): Map<string, PathTree> | undefined {
  const tree = new Map<string, PathTree>();
  for (const source of sources) {
    let paths: string[][];
    try {
      paths = collectReferences(compileExpression(source, scope).ast).map((r) => r.path);
    } catch {
      // It will fail the same way when evaluated, with its message; give it everything meanwhile.
      return undefined;
    }
    for (const path of paths) insert(tree, path);
  }
  return tree;
}

/** The expressions inside `${{ }}` in every string of `value` (objects and lists too); undefined when one does not parse. */
export function templateExpressions(value: unknown, into: string[] = []): string[] | undefined {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return into;
    try {
      for (const part of parseTemplate(value)) if (typeof part !== 'string') into.push(part.source);
    } catch {
      return undefined;
    }
    return into;
  }
  if (Array.isArray(value)) {
    for (const v of value) if (!templateExpressions(v, into)) return undefined;
    return into;
  }
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) if (!templateExpressions(v, into)) return undefined;
  }
  return into;
}

/** `context` cut down to `tree`; a variable the tree does not name is left out. */
export function project(context: Record<string, unknown>, tree: Map<string, PathTree> | undefined): Record<string, unknown> {
  if (!tree) return context;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of tree) if (Object.prototype.hasOwnProperty.call(context, key)) out[key] = projectValue(context[key], sub);
  return out;
}

function projectValue(value: unknown, tree: PathTree): unknown {
  // Lists and scalars are kept whole: an index into a list is not followed.
  if (tree === true || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return project(value as Record<string, unknown>, tree);
}

function insert(tree: Map<string, PathTree>, path: readonly string[]): void {
  let at = tree;
  for (let i = 0; i < path.length; i++) {
    const key = path[i] as string;
    const existing = at.get(key);
    if (existing === true) return;
    if (i === path.length - 1) {
      at.set(key, true);
      return;
    }
    if (existing === undefined) {
      const next = new Map<string, PathTree>();
      at.set(key, next);
      at = next;
    } else at = existing;
  }
}
