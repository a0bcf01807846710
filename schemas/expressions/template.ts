// Splits a string with `${{ … }}` holes into literal text and expressions. The scan knows
// CEL string literals and braces, so `${{ {"a": {"b": 1}} }}` ends at the right `}}`.
import { skipString } from './string-literal.js';

export interface TemplateExpression {
  /** The CEL source between `${{` and `}}`, trimmed. */
  source: string;
  /** Offset of `${{` in the template. */
  offset: number;
}

export type TemplatePart = string | TemplateExpression;

export class TemplateSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'TemplateSyntaxError';
  }
}

const OPEN = '${{';

/** True when `text` contains a `${{` opening. Cheap pre-check before parsing. */
export function hasTemplate(text: string): boolean {
  return text.includes(OPEN);
}

/** Parses `text` into parts; throws TemplateSyntaxError on an unclosed `${{` or an empty expression. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let cursor = 0;
  while (cursor < text.length) {
    const start = text.indexOf(OPEN, cursor);
    if (start < 0) {
      parts.push(text.slice(cursor));
      break;
    }
    if (start > cursor) parts.push(text.slice(cursor, start));
    const end = findClose(text, start + OPEN.length);
    if (end < 0) throw new TemplateSyntaxError('`${{` is not closed by `}}`', start);
    const source = text.slice(start + OPEN.length, end).trim();
    if (source === '') throw new TemplateSyntaxError('`${{ }}` holds no expression', start);
    parts.push({ source, offset: start });
    cursor = end + 2;
  }
  return parts;
}

/** When the whole string is exactly one `${{ }}`, returns it: its value keeps its type. */
export function soleExpression(parts: TemplatePart[]): TemplateExpression | undefined {
  return parts.length === 1 && typeof parts[0] === 'object' ? parts[0] : undefined;
}

function findClose(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      i = skipString(text, i);
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0 && text[i + 1] === '}') return i;
      if (depth > 0) depth--;
    }
  }
  return -1;
}
