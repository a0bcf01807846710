// Refuses YAML alias bombs. An alias (`*name`) reuses the node its anchor (`&name`) marks;
// parsers hand it back as a shared object, but anything that copies or walks the value without
// noticing the sharing (storage as JSON, a schema check) expands it, and nine levels of nine
// aliases are 387 million copies from one kilobyte of text. So each document's aliases are
// counted as expansion would copy them, and a document over `limits.yaml.maxAliases` is an
// error at the alias that crossed the limit, before any value is built.
import { isAlias, isCollection, isPair, type Document, type Node } from 'yaml';

/** Where a document's aliases go wrong: the offset of the alias and what to tell the user. */
export interface AliasProblem {
  offset: number;
  message: string;
}

/**
 * True when `text` may hold an alias: a `*` where a YAML node can start (line start, after
 * whitespace or a flow indicator), followed by a name character. Errs towards yes (`echo *.txt`
 * matches): a yes only sends the text to the slower parser that counts aliases.
 */
export function mayHoldAlias(text: string): boolean {
  return /(?:^|[\s[\]{},:?\-\uFEFF])\*[^\s,[\]{}]/.test(text);
}

/**
 * Counts the aliases of one parsed document as expansion would copy them (an alias of a node
 * that holds k aliases counts 1 + k) and returns the first problem: more than `maxAliases`, an
 * alias inside the node it names (a loop), or one with no anchor before it. Linear in the nodes.
 */
export function checkAliases(doc: Document, maxAliases: number): AliasProblem | undefined {
  /** Anchor name → aliases (expanded) inside the latest node with that anchor. */
  const weights = new Map<string, number>();
  /** Anchors whose node is being walked: an alias to one of them is a loop. */
  const open = new Map<string, number>();
  let total = 0;
  let problem: AliasProblem | undefined;

  const walk = (node: unknown): number => {
    if (problem || node === null || typeof node !== 'object') return 0;
    if (isAlias(node)) {
      const offset = node.range?.[0] ?? 0;
      if (open.has(node.source)) {
        problem = { offset, message: `the alias *${clip(node.source)} is inside the node &${clip(node.source)} it names, which makes an endless loop; write the value out instead` };
        return 0;
      }
      const inside = weights.get(node.source);
      if (inside === undefined) {
        problem = { offset, message: `the alias *${clip(node.source)} names no anchor before it; write &${clip(node.source)} on the node it should repeat, above this line` };
        return 0;
      }
      const weight = 1 + inside;
      total += weight;
      if (total > maxAliases) {
        const count = total > 1e6 ? 'over a million' : String(total);
        problem = { offset, message: `too many YAML aliases: expanded, this document's aliases (*name) make ${count} copies, over the limit of ${maxAliases} (limits.yaml.maxAliases); write the values out, or raise the limit if they are meant` };
      }
      return weight;
    }
    if (isPair(node)) return walk(node.key) + walk(node.value);
    const anchor = (node as Node).anchor;
    if (anchor) open.set(anchor, (open.get(anchor) ?? 0) + 1);
    let inside = 0;
    if (isCollection(node)) for (const item of node.items) inside += walk(item);
    if (anchor) {
      const depth = (open.get(anchor) ?? 1) - 1;
      if (depth === 0) open.delete(anchor);
      else open.set(anchor, depth);
      weights.set(anchor, inside);
    }
    return inside;
  };
  walk(doc.contents);
  return problem;
}

/** An anchor name as shown in a message: names come from the file, so they are kept short. */
function clip(name: string): string {
  return name.length > 40 ? `${name.slice(0, 40)}…` : name;
}
