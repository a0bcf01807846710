// Trigger filters (docs/definitions.md §8): data filters compare the value at a path of the
// event with a list of values (any of them matches; YAML types kept, so `1` is not `"1"`),
// expression filters are CEL conditions over the event. Compiled once per trigger; each
// evaluation says whether the filter holds and why, in words an author can act on.
import { compileExpression, ExpressionBudgetError, parseTemplate, soleExpression, type CompiledExpression, type EvaluationBudget, type TriggerFilter } from '../../schemas/index.js';
import { compileGlob } from './glob.js';
import { describeValue, describeValues, kindOf } from './describe-value.js';
import { project, referencedPaths } from './expression-context.js';
import type { NormalizedEvent } from './normalized-event.js';

export interface FilterVerdict {
  /** Position in the trigger's `filters`. */
  index: number;
  holds: boolean;
  /** `filters[1] body.ref: "refs/heads/dev" is not one of ["refs/heads/main"]` */
  reason: string;
}

/** What filters read: the event, and the expression context, built once per event and shared. */
export interface FilterInput {
  event: NormalizedEvent;
  expressionContext(): Record<string, unknown>;
  /** Outcomes of expressions already evaluated on this event, by source: triggers often share one. */
  evaluated?: Map<string, { value: unknown } | { error: unknown }>;
  /**
   * Bounds of each expression evaluation (limits.matching): steps, and the time left to match
   * this event. Absent: unbounded (tools that evaluate one trigger for an author).
   */
  budget?(): ExpressionBudget;
}

export interface ExpressionBudget extends EvaluationBudget {
  maxCost: number;
  /** limits.matching.eventTime, for the reason. */
  eventTimeMs?: number;
}

export interface CompiledFilter {
  index: number;
  /** Data filters are cheap, expressions are not: cheap ones run first. */
  cheap: boolean;
  test(input: FilterInput): FilterVerdict;
}

/** Compiles one filter; a filter that cannot work (bad regex, bad CEL) never holds and says why. */
export function compileFilter(filter: TriggerFilter, index: number): CompiledFilter {
  if (filter.expr !== undefined) return compileExprFilter(filter.expr, index);
  if (filter.path !== undefined && filter.value !== undefined) return compileDataFilter(filter.path, filter.value, filter.match ?? 'exact', index);
  return broken(index, 'a filter has either `path` with `value` or `expr`');
}

export interface FiltersVerdict {
  holds: boolean;
  reason: string;
  /** The filters evaluated, in the order of `filters` (evaluation stops once the outcome is known). */
  filters: FilterVerdict[];
}

/**
 * `and`: every filter must hold, and the first that does not is the reason; `or`: one is
 * enough. No filters always hold. Cheap filters run first, so an expression is evaluated only
 * when the data filters leave the outcome open.
 */
export function evaluateFilters(filters: readonly CompiledFilter[], operator: 'and' | 'or', input: FilterInput): FiltersVerdict {
  if (filters.length === 0) return { holds: true, reason: 'no filters', filters: [] };
  const seen: FilterVerdict[] = [];
  for (const filter of filters) {
    const verdict = filter.test(input);
    seen.push(verdict);
    if (operator === 'and' && !verdict.holds) return { holds: false, reason: verdict.reason, filters: ordered(seen) };
    if (operator === 'or' && verdict.holds) return { holds: true, reason: `${verdict.reason} (filtersOperator: or)`, filters: ordered(seen) };
  }
  if (operator === 'and') return { holds: true, reason: filters.length === 1 ? (seen[0] as FilterVerdict).reason : `all ${filters.length} filters hold`, filters: ordered(seen) };
  const all = ordered(seen);
  return { holds: false, reason: `no filter holds (filtersOperator: or): ${all.map((v) => v.reason).join('; ')}`, filters: all };
}

function ordered(verdicts: FilterVerdict[]): FilterVerdict[] {
  return verdicts.length > 1 ? verdicts.sort((a, b) => a.index - b.index) : verdicts;
}

// ---------------------------------------------------------------------------------------------
// Data filters

type Scalar = string | number | boolean | null;
type Match = NonNullable<TriggerFilter['match']>;

function compileDataFilter(path: string, value: Scalar | Scalar[], match: Match, index: number): CompiledFilter {
  const values = Array.isArray(value) ? value : [value];
  const label = `filters[${index}] ${path}`;
  const read = pathReader(path);
  const listed = describeValues(values);
  if (match === 'exact') {
    return {
      index,
      cheap: true,
      test: ({ event }) => {
        const actual = read(event);
        if (actual === undefined) return { index, holds: false, reason: `${label}: missing, so not one of ${listed}` };
        if (values.some((v) => v === actual)) return { index, holds: true, reason: `${label}: ${describeValue(actual)} is one of ${listed}` };
        return { index, holds: false, reason: `${label}: ${describeValue(actual)} is not one of ${listed}${typeHint(actual, values)}` };
      },
    };
  }
  let tests: ((text: string) => boolean)[];
  try {
    tests = values.map((v) => {
      const text = String(v);
      if (match === 'prefix') return (s: string) => s.startsWith(text);
      const re = match === 'regex' ? new RegExp(text, 'u') : compileGlob(text);
      return (s: string) => re.test(s);
    });
  } catch (error) {
    return broken(index, `${label}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const verb = match === 'prefix' ? 'starts with' : 'matches';
  const none = `${verb === 'matches' ? 'matches none of' : 'starts with none of'} ${listed}${match === 'prefix' ? '' : ` (${match})`}`;
  return {
    index,
    cheap: true,
    test: ({ event }) => {
      const actual = read(event);
      if (actual === undefined) return { index, holds: false, reason: `${label}: missing, so ${none}` };
      if (typeof actual !== 'string' && typeof actual !== 'number' && typeof actual !== 'boolean') {
        return { index, holds: false, reason: `${label}: ${kindOf(actual)}, not text, so ${none}` };
      }
      const text = String(actual);
      for (let hit = 0; hit < tests.length; hit++) {
        if ((tests[hit] as (s: string) => boolean)(text)) return { index, holds: true, reason: `${label}: ${describeValue(actual)} ${verb} ${describeValue(values[hit])}` };
      }
      return { index, holds: false, reason: `${label}: ${describeValue(actual)} ${none}` };
    },
  };
}

/** A value of another type that reads the same is the usual mistake: `1` for the label "1". */
function typeHint(actual: unknown, values: readonly Scalar[]): string {
  const same = values.find((v) => v !== null && actual !== null && typeof actual !== 'object' && String(v) === String(actual));
  if (same === undefined) return '';
  return ` (${describeValue(same)} in the filter is ${kindOf(same)} and the event's value is ${kindOf(actual)}; filter values keep their YAML type: ${typeof actual === 'string' ? 'quote it' : 'unquote it'})`;
}

type Reader = (event: NormalizedEvent) => unknown;

/** Compiles a dotted path: `body.a.0.b`, `headers.X-Foo` (any case), `labels.app.kubernetes.io/name`, `subject`. */
export function pathReader(path: string): Reader {
  const [root, ...rest] = path.split('.');
  const key = rest.join('.');
  switch (root) {
    case 'body':
      return (event) => walk(event.body, rest);
    case 'headers': {
      const name = key.toLowerCase();
      return rest.length === 0 ? (event) => event.headers : (event) => own(event.headers, name);
    }
    case 'labels':
      return rest.length === 0 ? (event) => event.labels : (event) => own(event.labels, key);
    case 'subject':
    case 'source':
    case 'type':
    case 'id':
      return rest.length === 0 ? (event) => event[root] : () => undefined;
    default:
      return () => undefined;
  }
}

function walk(value: unknown, segments: readonly string[]): unknown {
  let at = value;
  for (const segment of segments) {
    if (Array.isArray(at)) at = /^\d+$/.test(segment) ? at[Number(segment)] : undefined;
    else if (at !== null && typeof at === 'object') at = own(at as Record<string, unknown>, segment);
    else return undefined;
    if (at === undefined) return undefined;
  }
  return at;
}

/** Own properties only: `body.constructor` is not something a sender wrote. */
function own(record: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Expression filters

function compileExprFilter(text: string, index: number): CompiledFilter {
  let source = text.trim();
  try {
    if (source.includes('${{')) {
      const sole = soleExpression(parseTemplate(source));
      if (!sole) return broken(index, `filters[${index}] \`${text}\`: text around its \`\${{ }}\` makes it never true or false`);
      source = sole.source;
    }
  } catch (error) {
    return broken(index, `filters[${index}] \`${text}\`: ${message(error)}`);
  }
  let compiled: CompiledExpression;
  try {
    compiled = compileExpression(source, 'filter');
  } catch (error) {
    return broken(index, `filters[${index}] \`${source}\`: syntax error: ${message(error)}`);
  }
  const label = `filters[${index}] \`${source}\``;
  const reads = referencedPaths([source], 'filter');
  const run = (input: FilterInput): { value: unknown } | { error: unknown } => {
    const known = input.evaluated?.get(source);
    if (known) return known;
    let outcome: { value: unknown } | { error: unknown };
    try {
      outcome = { value: compiled.run(project(input.expressionContext(), reads), input.budget?.()) };
    } catch (error) {
      outcome = { error };
    }
    input.evaluated?.set(source, outcome);
    return outcome;
  };
  return {
    index,
    cheap: false,
    test: (input) => {
      const outcome = run(input);
      if ('error' in outcome) return { index, holds: false, reason: `${label} ${failure(outcome.error, input.budget?.())}` };
      const value = outcome.value;
      if (value === true) return { index, holds: true, reason: `${label} is true` };
      if (value === false) return { index, holds: false, reason: `${label} is false` };
      return { index, holds: false, reason: `${label} gave ${describeValue(value)}, not true or false` };
    },
  };
}

function failure(error: unknown, budget: ExpressionBudget | undefined): string {
  if (!(error instanceof ExpressionBudgetError)) return `failed: ${message(error)}`;
  if (error.kind === 'cost') return `not evaluated: expression cost over the budget of ${error.limit} (limits.matching.expressionCost)`;
  return `not evaluated: matching this event took over ${budget?.eventTimeMs ?? '?'} ms (limits.matching.eventTime)`;
}

function broken(index: number, reason: string): CompiledFilter {
  return { index, cheap: true, test: () => ({ index, holds: false, reason }) };
}

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
