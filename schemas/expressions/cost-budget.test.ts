// CEL evaluation under a budget: comprehension steps are counted and an evaluation past the
// budget or its deadline ends at once with ExpressionBudgetError, even where CEL would swallow
// an error (`||`, `all`); within the budget, results are those of an evaluation without one.
import { describe, expect, it } from 'vitest';
import { compileExpression, ExpressionBudgetError } from './index.js';

const list = Array.from({ length: 10 }, (_, i) => i);
// 10^7 steps: 6 s without a budget.
const SEVEN_NESTED = 'body.l.all(a, body.l.all(b, body.l.all(c, body.l.all(d, body.l.all(e, body.l.all(f, body.l.all(g, a + b + c + d + e + f + g >= 0)))))))';

describe('expression cost budget', () => {
  it('stops 7 nested all() over 10-item lists at the budget, fast', { timeout: 60_000 }, () => {
    const expr = compileExpression(SEVEN_NESTED, 'filter');
    const started = performance.now();
    expect(() => expr.run({ body: { l: list } }, { maxCost: 100_000 })).toThrow(new ExpressionBudgetError('cost', 100_000));
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('counts one step per element visited, through map, filter, exists and exists_one', () => {
    const run = (source: string, maxCost: number) => compileExpression(source, 'filter').run({ body: { l: list } }, { maxCost });
    expect(run('body.l.map(x, x * 2).filter(y, y > 2).size()', 20)).toBe(8);
    expect(() => run('body.l.map(x, x * 2).filter(y, y > 2).size()', 19)).toThrow('expression cost over the budget of 19 steps');
    expect(run('body.l.exists(x, x == 3)', 4)).toBe(true);
    expect(run('body.l.exists_one(x, x == 3) && body.l.map(x, x > 5, x).size() == 4', 20)).toBe(true);
    expect(() => run('body.l.map(x, x > 5, x).size() == 4', 9)).toThrow(ExpressionBudgetError);
  });

  it('is an error even where CEL would let the error go (`|| true`, `&& false`)', () => {
    const run = (source: string) => compileExpression(source, 'filter').run({ body: { l: list } }, { maxCost: 50 });
    expect(() => run(`${SEVEN_NESTED} || true`)).toThrow(ExpressionBudgetError);
    expect(() => run(`(${SEVEN_NESTED}) && false`)).toThrow(ExpressionBudgetError);
  });

  it('stops at a deadline on the given clock', () => {
    let clock = 0;
    const now = () => (clock += 1);
    expect(() => compileExpression(SEVEN_NESTED, 'filter').run({ body: { l: list } }, { deadline: 1000, now })).toThrow(new ExpressionBudgetError('time', 0));
  });

  it('meters predicates written in any shape, and leaves text in strings alone', () => {
    const run = (source: string) => compileExpression(source, 'filter').run({ body: { l: list } }, { maxCost: 1000 });
    expect(run('"x.all(a, b)" + string(body.l.exists(x, (x == 3 ? true : false)))')).toBe('x.all(a, b)true');
    expect(run('body.l.map(x, {"v": [x, x].map(y, y)}).size()')).toBe(10);
    expect(run('body.l.filter(x, x > 1 && (x < 4 || x == 9)).map(x, x)')).toEqual([2, 3, 9]);
  });

  it('leaves evaluations without a budget as they were, hyphenated names and strings included', () => {
    const expr = compileExpression('tasks.docker-echo.outputs.l.map(x, "(" + string(x) + ")").join(",")', 'pipeline');
    expect(expr.run({ tasks: { 'docker-echo': { outputs: { l: [1, 2] } } } })).toBe('(1),(2)');
    expect(expr.run({ tasks: { 'docker-echo': { outputs: { l: [1, 2] } } } }, { maxCost: 2 })).toBe('(1),(2)');
  });
});
