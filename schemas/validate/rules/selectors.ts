// A task that no actuator of the repository can run is probably a typo in its tags. Only a
// warning: actuators may come from another source.
import { ActuatorTypes, type Actuator, type Pipeline, type Task } from '../../language/index.js';
import type { Rule } from '../context.js';

const RUNS_ON_ACTUATOR = new Set<string>(ActuatorTypes);

export const selectorsSatisfied: Rule = (ctx) => {
  const actuators = ctx.actuators.map((a) => {
    const spec = a.value.spec as Actuator['spec'];
    const type = ActuatorTypes.find((t) => spec[t] !== undefined);
    return { type, tags: new Set(spec.tags ?? []) };
  });
  for (const def of ctx.pipelines.values()) {
    const spec = def.value.spec as Pipeline['spec'];
    for (const group of ['tasks', 'finally'] as const) {
      (spec[group] ?? []).forEach((task: Task, i) => {
        const type = task.type ?? 'local';
        if (!RUNS_ON_ACTUATOR.has(type)) return;
        const selector = task.actuatorSelector ?? spec.actuatorSelector;
        const tags = selector?.tags ?? [];
        if (actuators.some((a) => a.type === type && tags.every((t) => a.tags.has(t)))) return;
        const withTags = tags.length > 0 ? ` with tags [${tags.join(', ')}]` : '';
        const path = task.actuatorSelector ? ['spec', group, i, 'actuatorSelector'] : spec.actuatorSelector && tags.length > 0 ? ['spec', 'actuatorSelector'] : ['spec', group, i];
        ctx.report(def, path, 'selector-unsatisfied', `no ${type} actuator${withTags} is defined in this repository, so task \`${task.name}\` can run only if another source defines one`, { severity: 'warning' });
      });
    }
  }
};
