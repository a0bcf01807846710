// Evaluates `${{ }}` templates against a context object. Pure: the same template and context
// give the same value. A string that is exactly one expression keeps the value's type; text
// around expressions makes a string. Errors name the expression and where it was written.
import { compileExpression, ExpressionSyntaxError, type Scope } from './cel.js';
import { hasTemplate, parseTemplate, soleExpression, TemplateSyntaxError } from './template.js';

/** Where a template was written, for error messages. */
export interface Origin {
  file: string;
  line: number;
  column: number;
}

export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly expression: string,
    readonly origin?: Origin,
    options?: { cause?: unknown },
  ) {
    super(`${origin ? `${origin.file}:${origin.line}:${origin.column}: ` : ''}${message} in \`\${{ ${expression} }}\``, options);
    this.name = 'ExpressionError';
  }
}

/** Renders one string: returns it unchanged when it holds no `${{`. */
export function renderTemplate(text: string, scope: Scope, context: Record<string, unknown>, origin?: Origin): unknown {
  if (!hasTemplate(text)) return text;
  let parts;
  try {
    parts = parseTemplate(text);
  } catch (error) {
    throw new ExpressionError(error instanceof TemplateSyntaxError ? error.message : String(error), text, origin, { cause: error });
  }
  const sole = soleExpression(parts);
  if (sole) return evaluate(sole.source, scope, context, origin);
  return parts.map((p) => (typeof p === 'string' ? p : stringify(evaluate(p.source, scope, context, origin)))).join('');
}

/**
 * Renders every string inside `value` (objects and lists too). `originOf` maps a path inside
 * `value` to where it was written, for error messages.
 */
export function renderValue(
  value: unknown,
  scope: Scope,
  context: Record<string, unknown>,
  originOf?: (path: (string | number)[]) => Origin | undefined,
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') return renderTemplate(value, scope, context, originOf?.(path));
  if (Array.isArray(value)) return value.map((v, i) => renderValue(v, scope, context, originOf, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, scope, context, originOf, [...path, k])]));
  }
  return value;
}

/** Evaluates a condition such as `if:`; the `${{ }}` around it is optional. Must yield a boolean. */
export function evaluateCondition(text: string, scope: Scope, context: Record<string, unknown>, origin?: Origin): boolean {
  const value = hasTemplate(text) ? renderTemplate(text, scope, context, origin) : evaluate(text.trim(), scope, context, origin);
  if (typeof value !== 'boolean') {
    throw new ExpressionError(`a condition must be true or false, got ${JSON.stringify(value)}`, text, origin);
  }
  return value;
}

/** Evaluates one bare CEL expression. */
export function evaluate(source: string, scope: Scope, context: Record<string, unknown>, origin?: Origin): unknown {
  try {
    return compileExpression(source, scope).run(context);
  } catch (error) {
    const message = error instanceof ExpressionSyntaxError ? `syntax error: ${error.message}` : (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new ExpressionError(message ?? 'evaluation failed', source, origin, { cause: error });
  }
}

/** How a value reads inside a string: text as is, null as empty, objects as JSON. */
export function stringify(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
