// Literal values given to string inputs keep the text the user wrote: `version: 1.10` handed
// to a `type: string` input is "1.10", not the number 1.1. Input types are declared in another
// document (the called pipeline), so this runs across the set, before the rules.
import type { Pipeline, PipelineInput, Trigger } from '../language/index.js';
import type { Path } from '../loader/parse-yaml.js';
import type { RuleContext } from './context.js';
import type { Definition } from './definition.js';

/** Returns the definitions whose values it changed. */
export function keepInputText(ctx: RuleContext): Set<Definition> {
  const changed = new Set<Definition>();
  const text = (def: Definition, path: Path, value: unknown): unknown => {
    const kept = textOf(def, path, value);
    if (kept !== value) changed.add(def);
    return kept;
  };
  const keepText = (def: Definition<Pipeline> | Definition<Trigger>, at: Path, values: Record<string, unknown>, target: Definition<Pipeline>): void => {
    for (const input of target.value.spec.inputs ?? []) {
      if (isString(input) && input.name in values) values[input.name] = text(def, [...at, input.name], values[input.name]);
    }
  };
  for (const def of ctx.pipelines.values()) {
    if (!ctx.checks(def)) continue;
    const spec = def.value.spec;
    (spec.inputs ?? []).forEach((input, i) => {
      if (!isString(input)) return;
      if (input.default !== undefined) input.default = text(def, ['spec', 'inputs', i, 'default'], input.default);
      if (input.enum) input.enum = input.enum.map((v, j) => text(def, ['spec', 'inputs', i, 'enum', j], v));
    });
    for (const group of ['tasks', 'finally'] as const) {
      (spec[group] ?? []).forEach((task, i) => {
        const target = task.type === 'pipeline' && task.pipeline ? ctx.pipelines.get(task.pipeline) : undefined;
        if (target && task.inputs) keepText(def, ['spec', group, i, 'inputs'], task.inputs, target);
      });
    }
  }
  for (const def of ctx.triggers) {
    if (!ctx.checks(def)) continue;
    (def.value.spec.pipelines ?? []).forEach((p, i) => {
      const target = ctx.pipelines.get(p.name);
      if (target && p.inputs) keepText(def, ['spec', 'pipelines', i, 'inputs'], p.inputs, target);
    });
  }
  return changed;
}

function isString(input: PipelineInput): boolean {
  return (input.type ?? 'string') === 'string';
}

function textOf(def: Definition, path: Path, value: unknown): unknown {
  if (typeof value !== 'number' && typeof value !== 'boolean') return value;
  return def.document.sourceText(path) ?? String(value);
}
