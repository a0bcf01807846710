// Behaviour of `${{ }}` templates and CEL evaluation as pipelines and triggers use them.
import { describe, expect, it } from 'vitest';
import { collectReferences, compileExpression, evaluateCondition, ExpressionError, parseTemplate, renderTemplate, renderValue, rewriteHyphenatedNames } from './index.js';

const context = {
  inputs: { env: 'prod', replicas: 3, ratio: 0.5, flags: ['a', 'b'], on: true },
  tasks: { 'docker-echo': { status: 'succeeded', outputs: { image: 'registry/app:1.2' } } },
  event: { body: { after: 'abc123', commits: [{ id: 1 }, { id: 2 }] } },
  run: { id: 'r-1', status: 'failed' },
};

describe('templates', () => {
  it('splits text and expressions, and finds the right closing braces', () => {
    expect(parseTemplate('a ${{ x }} b ${{ {"k": {"n": 1}} }}')).toEqual(['a ', { source: 'x', offset: 2 }, ' b ', { source: '{"k": {"n": 1}}', offset: 13 }]);
    expect(() => parseTemplate('echo ${{ inputs.x')).toThrow('not closed');
    expect(() => parseTemplate('${{   }}')).toThrow('no expression');
  });

  it('keeps the type of a value that is exactly one expression', () => {
    expect(renderTemplate('${{ inputs.replicas }}', 'pipeline', context)).toBe(3);
    expect(renderTemplate('${{ inputs.on }}', 'pipeline', context)).toBe(true);
    expect(renderTemplate('${{ inputs.flags }}', 'pipeline', context)).toEqual(['a', 'b']);
    expect(renderTemplate('${{ inputs.replicas + 1 }}', 'pipeline', context)).toBe(4);
    expect(renderTemplate('${{ inputs.ratio * 2.0 }}', 'pipeline', context)).toBe(1);
  });

  it('interpolates into text when there is text around', () => {
    expect(renderTemplate('replicas=${{ inputs.replicas }} on=${{ inputs.on }}', 'pipeline', context)).toBe('replicas=3 on=true');
    expect(renderTemplate('flags=${{ inputs.flags }}', 'pipeline', context)).toBe('flags=["a","b"]');
    expect(renderTemplate('no expression here', 'pipeline', context)).toBe('no expression here');
  });

  it('reads names with hyphens in dotted paths', () => {
    expect(renderTemplate('${{ tasks.docker-echo.outputs.image }}', 'pipeline', context)).toBe('registry/app:1.2');
    expect(rewriteHyphenatedNames('tasks.a-b.outputs.c-d == "x.y-z"')).toBe('tasks["a-b"].outputs["c-d"] == "x.y-z"');
    expect(renderTemplate('${{ inputs.replicas - 1 }}', 'pipeline', context)).toBe(2);
  });

  it('reads members that start with a digit or are CEL reserved words, and leaves numbers alone', () => {
    expect(rewriteHyphenatedNames('tasks.01-build.outputs.x')).toBe('tasks["01-build"].outputs.x');
    expect(rewriteHyphenatedNames('inputs.in == 1.5 && x.y-z.startsWith("a.b-c")')).toBe('inputs["in"] == 1.5 && x["y-z"].startsWith("a.b-c")');
    expect(rewriteHyphenatedNames('list.exists(c, c.x-1 > 0)')).toBe('list.exists(c, c["x-1"] > 0)');
    expect(renderTemplate('${{ inputs.null }}', 'pipeline', { inputs: { null: 5 } })).toBe(5);
  });

  it('renders nested values and conditions', () => {
    expect(renderValue({ env: { SHA: '${{ event.body.after }}' }, list: ['${{ size(event.body.commits) }}'] }, 'pipeline', context)).toEqual({
      env: { SHA: 'abc123' },
      list: [2],
    });
    expect(evaluateCondition("inputs.env == 'prod'", 'pipeline', context)).toBe(true);
    expect(evaluateCondition("${{ run.status == 'succeeded' }}", 'pipeline', context)).toBe(false);
  });

  it('names the expression and where it was written when evaluation fails', () => {
    const origin = { file: 'pipelines/deploy.yaml', line: 12, column: 9 };
    let error: unknown;
    try {
      renderTemplate('${{ inputs.missing }}', 'pipeline', context, origin);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ExpressionError);
    expect((error as Error).message).toBe('pipelines/deploy.yaml:12:9: No such key: missing in `${{ inputs.missing }}`');
    expect(() => evaluateCondition('inputs.replicas', 'pipeline', context, origin)).toThrow('a condition must be true or false, got 3');
    expect(() => renderTemplate('${{ inputs.env + }}', 'pipeline', context)).toThrow('syntax error');
  });

  it('is pure: the same template and context give the same value, and the context is untouched', () => {
    const before = JSON.stringify(context);
    const a = renderTemplate('${{ inputs.replicas * 2 }}', 'pipeline', context);
    const b = renderTemplate('${{ inputs.replicas * 2 }}', 'pipeline', context);
    expect([a, b]).toEqual([6, 6]);
    expect(JSON.stringify(context)).toBe(before);
  });
});

describe('compilation', () => {
  it('compiles once and caches per scope', () => {
    const a = compileExpression('inputs.env == "prod"', 'pipeline');
    expect(compileExpression('inputs.env == "prod"', 'pipeline')).toBe(a);
    expect(compileExpression('event.type == "push"', 'trigger').checkError).toBeUndefined();
    expect(compileExpression('inputs.env', 'trigger').checkError).toContain('Unknown variable: inputs');
  });

  it('collects the paths an expression reads, not macro variables', () => {
    const refs = collectReferences(compileExpression('tasks.build-app.outputs.image + inputs["env"] + event.body.commits.exists(c, c.id == 1) ? "a" : "b"', 'pipeline').ast);
    expect(refs.map((r) => r.path.join('.'))).toEqual(expect.arrayContaining(['tasks.build-app.outputs.image', 'inputs.env', 'event.body.commits', 'c.id']));
  });
});
