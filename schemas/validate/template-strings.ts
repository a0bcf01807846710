// Finds the strings of a definition that hold `${{` (and every `if:` and `expr:`, which may
// be bare expressions), with their paths. Most strings hold no template, so a path is only
// copied for those that do. A node shared through a YAML alias is visited once (at its first
// path), so a walk is linear in the text even when expansion would not be.
import { hasTemplate } from '../expressions/index.js';
import type { Path, PathSegment } from '../loader/parse-yaml.js';

const BARE = new Set<PathSegment>(['if', 'expr']);

export function templateStrings(value: unknown, base: Path): [Path, string][] {
  const out: [Path, string][] = [];
  const path: PathSegment[] = [...base];
  const seen = new WeakSet<object>();
  const visit = (v: unknown) => {
    if (typeof v === 'string') {
      if (hasTemplate(v) || BARE.has(path[path.length - 1] as PathSegment)) out.push([[...path], v]);
      return;
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        visit(v[i]);
        path.pop();
      }
    } else {
      for (const k of Object.keys(v)) {
        path.push(k);
        visit((v as Record<string, unknown>)[k]);
        path.pop();
      }
    }
  };
  visit(value);
  return out;
}
