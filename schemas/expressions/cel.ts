// Compiles and evaluates CEL expressions (`@marcbachmann/cel-js`). Compiled programs are cached
// by scope and source. Two conveniences over plain CEL: names with `-` work in dotted paths
// (`tasks.docker-echo.outputs.x`), and JS numbers go in and come out as plain numbers. An
// evaluation may be given a budget: the library has no step limit, and 7 nested `.all()` over
// 10-item lists ran for 6 s, so every step of a comprehension (`all`, `exists`, `exists_one`,
// `map`, `filter`) is counted by a macro wrapped around its predicate, and the evaluation ends
// with an ExpressionBudgetError once the count or a deadline is passed.
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
  /** Evaluates over `context`; with a budget, throws ExpressionBudgetError past it. */
  run(context: Record<string, unknown>, budget?: EvaluationBudget): unknown;
}

/** Bounds of one evaluation; absent fields do not bound. */
export interface EvaluationBudget {
  /** Comprehension steps (one per element an `all`/`exists`/`exists_one`/`map`/`filter` visits). */
  maxCost?: number;
  /** A time on `now`'s clock after which the evaluation stops. */
  deadline?: number;
  /** The clock of `deadline`; performance.now by default. */
  now?: () => number;
}

/** An evaluation went past its budget: `cost` (steps) or `time` (deadline). */
export class ExpressionBudgetError extends Error {
  constructor(
    readonly kind: 'cost' | 'time',
    readonly limit: number,
  ) {
    super(kind === 'cost' ? `expression cost over the budget of ${limit} steps` : 'expression evaluation ran past its deadline');
    this.name = 'ExpressionBudgetError';
  }
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

// The meter of the evaluation in progress. Evaluation is synchronous (no async functions are
// registered), so one module-wide meter is never shared by two evaluations at once.
const STEP = '__eventops_step';
const UNMETERED = { remaining: Infinity, deadline: Infinity, now: () => 0, steps: 0, over: undefined as 'cost' | 'time' | undefined };
let meter = { ...UNMETERED };
// Reading the clock every step would cost more than most steps do.
const CLOCK_EVERY = 256;

function step(): void {
  if (meter.over !== undefined) throw new ExpressionBudgetError(meter.over, 0);
  if (--meter.remaining < 0) meter.over = 'cost';
  else if (++meter.steps % CLOCK_EVERY === 0 && meter.now() > meter.deadline) meter.over = 'time';
  if (meter.over !== undefined) throw new ExpressionBudgetError(meter.over, 0);
}

interface MacroAst {
  args: unknown[];
}
interface MacroChecker {
  check(node: unknown, ctx: unknown): unknown;
}
interface MacroEvaluator {
  run(node: unknown, ctx: unknown): unknown;
}

function environment(scope: Scope): Environment {
  let env = environments.get(scope);
  if (!env) {
    env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false });
    for (const name of SCOPE_VARIABLES[scope]) env.registerVariable(name, 'dyn');
    // `__eventops_step(x)` is `x`, counted before `x` is evaluated (a custom macro, the library's
    // documented way to hook evaluation): wrapped around each comprehension's predicate.
    env.registerFunction(`${STEP}(ast): dyn`, ({ args }: MacroAst) => ({
      args,
      typeCheck: (checker: MacroChecker, macro: MacroAst, ctx: unknown) => checker.check(macro.args[0], ctx),
      evaluate: (ev: MacroEvaluator, macro: MacroAst, ctx: unknown) => {
        step();
        return ev.run(macro.args[0], ctx);
      },
    }));
    environments.set(scope, env);
  }
  return env;
}

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/**
 * `cel` with the per-element argument of every comprehension wrapped in the step macro: the
 * second argument, which runs once per element (the predicate, `map`'s transform or filter).
 */
function metered(cel: string, ast: AstNode): string {
  const inserts: [number, string][] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object' || !('op' in node)) return;
    const { op, args } = node as AstNode;
    // The macros' arities only: `map(x, f)` or `map(x, p, f)`, the others `(x, p)`.
    const call = op === 'rcall' && Array.isArray(args) && Array.isArray(args[2]) ? { name: args[0] as string, params: args[2] as AstNode[] } : undefined;
    if (call && COMPREHENSIONS.has(call.name) && (call.params.length === 2 || (call.params.length === 3 && call.name === 'map'))) {
      const each = call.params[1];
      if (each?.start !== undefined && each.end !== undefined) inserts.push([each.start, `${STEP}(`], [each.end, ')']);
    }
    if (Array.isArray(args)) args.forEach(visit);
    else visit(args);
  };
  visit(ast);
  let out = cel;
  // From the end, so earlier positions stay valid; at one position only opens or only closes meet.
  for (const [at, text] of inserts.sort((a, b) => b[0] - a[0])) out = out.slice(0, at) + text + out.slice(at);
  return out;
}

/** Evaluates `program` under `budget`; a budget passed is an error even when CEL swallowed it (`||`, `all`). */
function runMetered(program: Program, context: Record<string, unknown>, budget: EvaluationBudget | undefined): unknown {
  if (!budget) return fromCel(program(toCelContext(context)));
  const outer = meter;
  meter = { remaining: budget.maxCost ?? Infinity, deadline: budget.deadline ?? Infinity, now: budget.now ?? (() => performance.now()), steps: 0, over: undefined };
  const current = meter;
  try {
    const value = program(toCelContext(context));
    if (current.over !== undefined) throw new ExpressionBudgetError(current.over, current.over === 'cost' ? (budget.maxCost as number) : 0);
    return fromCel(value);
  } catch (error) {
    if (current.over !== undefined) throw new ExpressionBudgetError(current.over, current.over === 'cost' ? (budget.maxCost as number) : 0);
    throw error;
  } finally {
    meter = outer;
  }
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
  const instrumented = metered(cel, program.ast);
  // Parsed once, the first time a budget is given.
  let meteredProgram: Program | undefined;
  const compiled: CompiledExpression = {
    source,
    cel,
    ast: program.ast,
    ...(check.valid ? {} : { checkError: firstLine(check.error) }),
    run: (context, budget) => {
      if (!budget || instrumented === cel) return runMetered(program, context, budget);
      // Should the instrumented text not parse (it always has), the plain program still runs.
      meteredProgram ??= parseOr(scope, instrumented, program);
      return runMetered(meteredProgram, context, budget);
    },
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, compiled);
  return compiled;
}

function parseOr(scope: Scope, cel: string, fallback: Program): Program {
  try {
    return environment(scope).parse(cel) as unknown as Program;
  } catch {
    return fallback;
  }
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
