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
  /** Only these tasks (what the expressions at hand name); absent: every task. */
  only?: ReadonlySet<string> | undefined;
}

/**
 * The task names that templates `texts` can read through `tasks`, or undefined when they may read
 * any (`tasks[...]`, `tasks` on its own). CEL copies its whole context on each evaluation, so a
 * 1,000-task run gives each expression only the tasks it names.
 */
export function referencedTasks(texts: readonly string[]): Set<string> | undefined {
  const names = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(/\btasks\b(\s*\.\s*([A-Za-z0-9_-]+))?/g)) {
      if (match[2] === undefined) return undefined;
      names.add(match[2]);
    }
  }
  return names;
}

export function runContext(input: RunContextInput): Record<string, unknown> {
  const { run, event } = input;
  return {
    inputs: run.inputs ?? {},
    contexts: run.contexts ?? {},
    tasks: Object.fromEntries(
      input.only ? [...input.only].flatMap((name) => {
        const t = input.tasks.get(name);
        return t ? [[name, { status: t.status, outputs: t.outputs }]] : [];
      }) : [...input.tasks].map(([name, t]) => [name, { status: t.status, outputs: t.outputs }]),
    ),
    event: event
      ? { id: event.deliveryId ?? event.id, source: event.source, type: event.type, action: event.action, subject: event.subject, body: event.body, headers: event.headers, labels: event.labels }
      : {},
    run: { id: run.id, status: input.status, revision: input.revision, pipeline: run.pipeline },
    trigger: { name: run.trigger, source: run.source },
  };
}
