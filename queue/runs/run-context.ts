// What `${{ }}` sees inside a pipeline (DESIGN.md §3.4): `inputs`, `contexts`,
// `tasks.<name>.outputs` and `.status`, `event`, `run` and `trigger`. Built from stored rows;
// the same shape for `if`, env, commands, nested pipeline inputs and pipeline outputs.
import type { EventRow, RunRow } from '../../schemas/database/index.js';

export interface TaskView {
  status: string;
  outputs: Record<string, unknown>;
}

export interface RunContextInput {
  run: Pick<RunRow, 'id' | 'inputs' | 'contexts' | 'source' | 'trigger' | 'pipeline'>;
  /** The run's status as the expressions should see it (for `finally`: what the run will end as). */
  status: string;
  revision: string;
  event: EventRow | undefined;
  tasks: ReadonlyMap<string, TaskView>;
}

export function runContext(input: RunContextInput): Record<string, unknown> {
  const { run, event } = input;
  return {
    inputs: run.inputs ?? {},
    contexts: run.contexts ?? {},
    tasks: Object.fromEntries([...input.tasks].map(([name, t]) => [name, { status: t.status, outputs: t.outputs }])),
    event: event
      ? { id: event.deliveryId ?? event.id, source: event.source, type: event.type, action: event.action, subject: event.subject, body: event.body, headers: event.headers, labels: event.labels }
      : {},
    run: { id: run.id, status: input.status, revision: input.revision, pipeline: run.pipeline },
    trigger: { name: run.trigger, source: run.source },
  };
}
