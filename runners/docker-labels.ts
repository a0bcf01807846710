// What marks a container as one of the docker runner's: its labels (which the start-up cleanup
// reads, so it never touches containers it did not make) and a readable name. Nothing of the
// task's env or secrets goes into either.
import { randomBytes } from 'node:crypto';
import type { TaskExecution } from './runner.js';

/** The labels every container of this runner carries; cleanup touches only `managed=true` ones. */
export const DOCKER_LABELS = {
  managed: 'dev.eventops.managed',
  run: 'dev.eventops.run',
  task: 'dev.eventops.task',
  attempt: 'dev.eventops.attempt',
  worker: 'dev.eventops.worker',
  /** Epoch ms by which the runner will have killed the container (timeout + grace); only with a timeout. */
  deadline: 'dev.eventops.deadline',
} as const;

/** The labels of the attempt's container; `deadline` (epoch ms) only when the task has a timeout. */
export function containerLabels(execution: TaskExecution, workerId: string, deadline: number | undefined): Record<string, string> {
  return {
    [DOCKER_LABELS.managed]: 'true',
    [DOCKER_LABELS.run]: execution.runId,
    [DOCKER_LABELS.task]: execution.task,
    [DOCKER_LABELS.attempt]: String(execution.attempt),
    [DOCKER_LABELS.worker]: workerId,
    ...(deadline === undefined ? {} : { [DOCKER_LABELS.deadline]: String(deadline) }),
  };
}

/** A readable container name: `eventops-<task>-<run>-<attempt>-<random>`, in Docker's name characters. */
export function containerName(execution: TaskExecution): string {
  const part = (text: string, max: number) => text.replace(/[^a-zA-Z0-9_.-]+/g, '-').slice(0, max).replace(/^[-.]+|[-.]+$/g, '') || 'x';
  return `eventops-${part(execution.task, 40)}-${part(execution.runId, 8)}-${execution.attempt}-${randomBytes(3).toString('hex')}`;
}
