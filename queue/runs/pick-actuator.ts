// Which actuators may run a task: those of the run's source (at its revision) whose type is the
// task's type and that carry every tag of the selector (the task's, else the pipeline's).
// Pipelines select by tags, never by name (DESIGN.md §3.1). A source that defines no actuator at
// all gets one built-in `local` actuator, so a first pipeline runs with nothing else set up.
import type { Actuator, Pipeline, Task } from '../../schemas/index.js';

export const RUNNER_TYPES = ['local', 'ssh', 'docker', 'kubernetes', 'agent'] as const;
export type RunnerType = (typeof RUNNER_TYPES)[number];

export interface ActuatorChoice {
  /** `<source>/<name>`; `builtin/local` for the built-in one. */
  key: string;
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

/** The candidates, or a message saying why there is none. */
export function actuatorCandidates(source: string, actuators: readonly Actuator[], pipeline: Pipeline, task: Task): { ok: true; choices: ActuatorChoice[] } | { ok: false; reason: string } {
  const type = (task.type ?? 'local') as RunnerType;
  const tags = task.actuatorSelector?.tags ?? pipeline.spec.actuatorSelector?.tags ?? [];
  if (actuators.length === 0) {
    if (type === 'local') return { ok: true, choices: [{ key: 'builtin/local', actuator: BUILTIN_LOCAL, concurrency: 4 }] };
    return { ok: false, reason: `source ${source} defines no actuator, and a ${type} task needs one` };
  }
  const choices = actuators
    .filter((a) => actuatorType(a) === type && tags.every((tag) => (a.spec.tags ?? []).includes(tag)))
    .map((a) => ({ key: `${source}/${a.metadata.name}`, actuator: a, concurrency: a.spec.concurrency ?? Number.POSITIVE_INFINITY }));
  if (choices.length === 0) return { ok: false, reason: `no ${type} actuator of source ${source} has the tags [${tags.join(', ')}]` };
  return { ok: true, choices };
}
