// The inputs a trigger hands to one of its pipelines when an event matches: each value
// rendered (`${{ }}` reads `event` and `trigger`), the pipeline's defaults added, and every
// value checked against the input's declared type and enum, since an expression's value is
// known only now. A failure names the pipeline and the input, so the event's record says
// exactly which value to fix.
import { fitsInputType, renderValue, type InputType, type Pipeline, type PipelineInput, type Scope } from '../../schemas/index.js';
import { describeValue, describeValues, kindOf } from './describe-value.js';

export type InputsResult = { ok: true; inputs: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Resolves `given` (a trigger's `pipelines[].inputs`) for `pipeline` against `context`
 * (`{ event, trigger }`). Inputs come out in the pipeline's declared order. `rendered`, when
 * given, holds the values of templates already rendered for this event, by text: only for
 * templates that read nothing but the event, which are the same for every trigger. `scope`:
 * where the values were written (`trigger`; `pipeline` for a nested `pipeline` task's inputs).
 */
export function resolveInputs(
  pipeline: Pipeline,
  given: Readonly<Record<string, unknown>> | undefined,
  context: Record<string, unknown>,
  rendered?: Map<string, unknown>,
  scope: Scope = 'trigger',
): InputsResult {
  const name = pipeline.metadata.name;
  const declared = pipeline.spec.inputs ?? [];
  const values = given ?? {};
  for (const key of Object.keys(values)) {
    if (!declared.some((i) => i.name === key)) return fail(name, key, `the pipeline declares no such input; its inputs are: ${declared.map((i) => i.name).join(', ') || '(none)'}`);
  }
  const inputs: Record<string, unknown> = {};
  for (const input of declared) {
    if (!Object.prototype.hasOwnProperty.call(values, input.name)) {
      if (input.default !== undefined) inputs[input.name] = input.default;
      else if (input.required) return fail(name, input.name, 'required, and the trigger gives no value (and the pipeline no default)');
      continue;
    }
    let value: unknown;
    try {
      value = render(values[input.name], context, rendered, scope);
    } catch (error) {
      return fail(name, input.name, error instanceof Error ? error.message : String(error));
    }
    const checked = checkValue(input, value);
    if (!checked.ok) return fail(name, input.name, checked.problem);
    inputs[input.name] = checked.value;
  }
  return { ok: true, inputs };
}

function fail(pipeline: string, input: string, problem: string): InputsResult {
  return { ok: false, reason: `pipeline ${pipeline}: input ${input}: ${problem}` };
}

function render(value: unknown, context: Record<string, unknown>, rendered: Map<string, unknown> | undefined, scope: Scope): unknown {
  if (!rendered || typeof value !== 'string') return renderValue(value, scope, context);
  if (rendered.has(value)) return rendered.get(value);
  const out = renderValue(value, scope, context);
  rendered.set(value, out);
  return out;
}

type Checked = { ok: true; value: unknown } | { ok: false; problem: string };

/** A number or boolean given to a string input is its text, as a literal in YAML would be. */
function checkValue(input: PipelineInput, rendered: unknown): Checked {
  const type = (input.type ?? 'string') as InputType;
  const value = type === 'string' && (typeof rendered === 'number' || typeof rendered === 'boolean') ? String(rendered) : rendered;
  if (!fitsInputType(type, value)) return { ok: false, problem: `declared ${type}, but the value ${describeValue(value)} is ${kindOf(value)}` };
  if (input.enum && !input.enum.some((e) => same(e, value))) return { ok: false, problem: `${describeValue(value)} is not one of ${describeValues(input.enum)}` };
  return { ok: true, value };
}


function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && JSON.stringify(a) === JSON.stringify(b);
}
