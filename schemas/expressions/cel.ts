// Compiles and evaluates CEL expressions (`@marcbachmann/cel-js`). Compiled programs are cached
// by scope and source. Two conveniences over plain CEL: names with `-` work in dotted paths
// (`tasks.docker-echo.outputs.x`), and JS numbers go in and come out as plain numbers.
import { Environment } from '@marcbachmann/cel-js';
import { skipString } from './string-literal.js';

/** Which variables an expression may use, by where it is written. */
export type Scope = 'pipeline' | 'trigger' | 'filter';

const SCOPE_VARIABLES: Record<Scope, readonly string[]> = {
  pipeline: ['inputs', 'contexts', 'tasks', 'event', 'run', 'trigger'],
  trigger: ['event', 'trigger'],
  filter: ['event', 'body', 'headers', 'labels', 'subject'],
};

export function scopeVariables(scope: Scope): readonly string[] {
  return SCOPE_VARIABLES[scope];
}

export interface AstNode {
  op: string;
  args: unknown;
  start?: number;
  end?: number;
}

export interface CompiledExpression {
  source: string;
  /** The CEL text actually compiled (after rewriting hyphenated names). */
  cel: string;
  ast: AstNode;
  /** A type-check problem found without evaluating (unknown variable, impossible operator), if any. */
  checkError?: string;
  run(context: Record<string, unknown>): unknown;
}

export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}

type Program = ((context: Record<string, unknown>) => unknown) & { ast: AstNode; check(): { valid: boolean; error?: Error } };

const environments = new Map<Scope, Environment>();
const cache = new Map<string, CompiledExpression>();
const CACHE_LIMIT = 10_000;

function environment(scope: Scope): Environment {
  let env = environments.get(scope);
  if (!env) {
    env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false });
    for (const name of SCOPE_VARIABLES[scope]) env.registerVariable(name, 'dyn');
    environments.set(scope, env);
  }
  return env;
}

/** Compiles `source` for `scope`, from cache when seen before. Throws ExpressionSyntaxError when it does not parse. */
export function compileExpression(source: string, scope: Scope): CompiledExpression {
  const key = `${scope}\u0000${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const cel = rewriteHyphenatedNames(source);
  let program: Program;
  try {
    program = environment(scope).parse(cel) as unknown as Program;
  } catch (error) {
    throw new ExpressionSyntaxError(firstLine(error), source);
  }
  const check = program.check();
  const compiled: CompiledExpression = {
    source,
    cel,
    ast: program.ast,
    ...(check.valid ? {} : { checkError: firstLine(check.error) }),
    run: (context) => fromCel(program(toCelContext(context))),
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, compiled);
  return compiled;
}

const RESERVED = new Set(['in', 'null', 'true', 'false', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

/**
 * Makes definition names readable in dotted paths: `a.b-c.d` → `a["b-c"].d`, and likewise
 * members that start with a digit (`tasks.01-build`) or are CEL reserved words (`inputs.in`).
 * A `-` between name characters with no spaces around it is part of the name; write `a - b`
 * (with spaces) to subtract.
 */
export function rewriteHyphenatedNames(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '"' || c === "'") {
      const end = skipString(source, i);
      out += source.slice(i, end + 1);
      i = end;
      continue;
    }
    if (c === '.' && i > 0 && /[\w\])]/.test(source[i - 1] as string) && !/(^|[^\w])\d+$/.test(source.slice(0, i))) {
      const match = /^\w+(?:-\w+)*/.exec(source.slice(i + 1));
      const name = match?.[0];
      const isCall = name !== undefined && source[i + 1 + name.length] === '(';
      if (name && !isCall && (name.includes('-') || /^\d/.test(name) || RESERVED.has(name))) {
        out += `["${name}"]`;
        i += name.length;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** JS integers become CEL ints (BigInt) so `inputs.count + 1` works. A fresh copy each time: contexts change between evaluations. */
function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toCel);
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v === undefined ? null : toCel(v)]));
}

function toCelContext(context: Record<string, unknown>): Record<string, unknown> {
  return toCel(context) as Record<string, unknown>;
}

/** CEL results back to plain JSON-like values: BigInt → number, Map → object. */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Map) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), fromCel(v)]));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(fromCel);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromCel(v)]));
  }
  return value;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
