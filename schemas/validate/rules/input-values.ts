// Checks the inputs handed to a pipeline (by a trigger or a `pipeline` task) against what the
// pipeline declares: unknown names, missing required inputs, literal values of the wrong type
// or outside the enum. Values with `${{ }}` are only known at run time and pass here.
import { hasTemplate } from '../../expressions/index.js';
import { fitsInputType, type InputType, type Pipeline, type PipelineInput } from '../../language/index.js';
import type { Path } from '../../loader/parse-yaml.js';
import type { RuleContext } from '../context.js';
import type { Definition } from '../definition.js';
import { suggestion } from '../suggest.js';

export function checkInputValues(
  ctx: RuleContext,
  def: Definition,
  at: Path,
  given: Record<string, unknown> | undefined,
  target: Definition<Pipeline>,
): void {
  const declared = target.value.spec.inputs ?? [];
  const names = declared.map((i) => i.name);
  const values = given ?? {};
  for (const [name, value] of Object.entries(values)) {
    const input = declared.find((i) => i.name === name);
    if (!input) {
      ctx.report(
        def,
        [...at, name],
        'input-unknown',
        `pipeline \`${target.name}\` has no input \`${name}\`${suggestion(name, names)}; its inputs are: ${names.join(', ') || '(none)'}`,
        { at: 'key' },
      );
      continue;
    }
    const problem = literalProblem(input, value);
    if (problem) ctx.report(def, [...at, name], 'input-type', `input \`${name}\` of pipeline \`${target.name}\` ${problem}`);
  }
  for (const input of declared) {
    if (input.required && input.default === undefined && !(input.name in values)) {
      ctx.report(def, at.length > 0 && given ? at : at.slice(0, -1), 'input-required', `pipeline \`${target.name}\` requires the input \`${input.name}\`; add \`${input.name}: …\` to \`inputs\``);
    }
  }
}

/** What is wrong with a literal `value` for `input`, or undefined when it fits (or is a template). */
export function literalProblem(input: PipelineInput, value: unknown): string | undefined {
  if (typeof value === 'string' && hasTemplate(value)) return undefined;
  const type = (input.type ?? 'string') as InputType;
  const fits = typeFits(type, value);
  if (!fits) return `is declared \`${type}\` but the value ${JSON.stringify(value)} is ${kindOf(value)}`;
  if (input.enum && !input.enum.some((e) => e === value || String(e) === String(value))) {
    return `must be one of: ${input.enum.map((e) => JSON.stringify(e)).join(', ')}; got ${JSON.stringify(value)}`;
  }
  return undefined;
}

function typeFits(type: InputType, value: unknown): boolean {
  // YAML `1.0` or `true` given to a string input is read as its text.
  if (type === 'string' && (typeof value === 'number' || typeof value === 'boolean')) return true;
  return fitsInputType(type, value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}
