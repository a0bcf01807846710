// Finds the variable paths an expression reads (`inputs.env`, `tasks.build.outputs.image`),
// so validation can check each against what the definition declares.
import type { AstNode } from './cel.js';

/** A dotted path read by an expression; `path[0]` is the variable. */
export interface Reference {
  path: string[];
}

export function collectReferences(ast: AstNode): Reference[] {
  const out: Reference[] = [];
  walk(ast, out);
  return out;
}

function isNode(v: unknown): v is AstNode {
  return v !== null && typeof v === 'object' && typeof (v as AstNode).op === 'string';
}

function chain(node: AstNode): string[] | undefined {
  if (node.op === 'id' && typeof node.args === 'string') return [node.args];
  if ((node.op === '.' || node.op === '[]') && Array.isArray(node.args)) {
    const [base, member] = node.args as [unknown, unknown];
    if (!isNode(base)) return undefined;
    const head = chain(base);
    if (!head) return undefined;
    if (node.op === '.' && typeof member === 'string') return [...head, member];
    if (isNode(member) && member.op === 'value' && typeof member.args === 'string') return [...head, member.args];
    return head;
  }
  return undefined;
}

function walk(value: unknown, out: Reference[]): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, out);
    return;
  }
  if (!isNode(value)) return;
  if (value.op === 'id' || value.op === '.' || value.op === '[]') {
    const path = chain(value);
    if (path) {
      out.push({ path });
      // A computed index (`a[b]`) reads `b` too.
      if (value.op === '[]') walk((value.args as unknown[])[1], out);
      return;
    }
  }
  if (value.op === 'value') return;
  walk(value.args, out);
}
