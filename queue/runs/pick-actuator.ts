// Which actuators may run a task: those whose type is the task's type and that carry every tag
// of the selector (the task's, else the pipeline's) — the run's own source's first (at the run's
// revision), else those of other sources (at their active revisions: a platform team's
// repository may hold the actuators that application teams' pipelines select). Pipelines select
// by tags, never by name (DESIGN.md §3.1). When nothing matches anywhere and the run's source
// defines no actuator at all, a `local` task gets a built-in `local` actuator, so a first
// pipeline runs with nothing else set up.
import type { Actuator, Pipeline, Task } from '../../schemas/index.js';

export const RUNNER_TYPES = ['local', 'ssh', 'docker', 'kubernetes', 'agent'] as const;
export type RunnerType = (typeof RUNNER_TYPES)[number];

export interface ActuatorChoice {
  /** `<source>/<name>`; `builtin/local` for the built-in one. */
  key: string;
  /** The source that defines it (its secrets are that source's); `builtin` for the built-in one. */
  source: string;
  actuator: Actuator;
  /** Tasks at once on it; Infinity when the actuator sets no limit. */
  concurrency: number;
}

export const BUILTIN_LOCAL: Actuator = {
  apiVersion: 'eventops.dev/v1',
  kind: 'Actuator',
  metadata: { name: 'local' },
  spec: { tags: [], concurrency: 4, local: {} },
};

export function actuatorType(actuator: Actuator): RunnerType | undefined {
  return RUNNER_TYPES.find((type) => actuator.spec[type] !== undefined);
}

/** The candidates, or a message saying why there is none. `others`: other sources' active actuators. */
export function actuatorCandidates(
  source: string,
  actuators: readonly Actuator[],
  pipeline: Pipeline,
  task: Task,
  others: readonly { source: string; actuator: Actuator }[] = [],
): { ok: true; choices: ActuatorChoice[] } | { ok: false; reason: string } {
  const type = (task.type ?? 'local') as RunnerType;
  const tags = task.actuatorSelector?.tags ?? pipeline.spec.actuatorSelector?.tags ?? [];
  const fits = (a: Actuator) => actuatorType(a) === type && tags.every((tag) => (a.spec.tags ?? []).includes(tag));
  const choice = (from: string, a: Actuator): ActuatorChoice => ({ key: `${from}/${a.metadata.name}`, source: from, actuator: a, concurrency: a.spec.concurrency ?? Number.POSITIVE_INFINITY });
  const own = actuators.filter(fits).map((a) => choice(source, a));
  if (own.length > 0) return { ok: true, choices: own };
  const elsewhere = others.filter((o) => o.source !== source && fits(o.actuator)).map((o) => choice(o.source, o.actuator));
  if (elsewhere.length > 0) return { ok: true, choices: elsewhere };
  if (actuators.length === 0 && type === 'local') return { ok: true, choices: [{ key: 'builtin/local', source: 'builtin', actuator: BUILTIN_LOCAL, concurrency: 4 }] };
  return { ok: false, reason: `no ${type} actuator${tags.length > 0 ? ` has the tags [${tags.join(', ')}]` : ' is defined'} in source ${source} or any other source` };
}
