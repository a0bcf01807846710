// What the end of a kubernetes attempt means for the task: its status, exit code, error and
// outputs, read from how supervision ended (kubernetes-supervise.ts) and the results the wrapper
// printed in the pod's log. When the pod went away by itself, the Job's conditions say why.
import type { TaskExecution, TaskResult } from './runner.js';
import { messageOf, statusOf, withTimeout, type Cluster } from './kubernetes-api.js';
import type { Supervised } from './kubernetes-supervise.js';
import { parseResults } from './remote-script.js';
import { collectOutputs, sizeText } from './read-outputs.js';
import { durationText } from './duration-text.js';

export interface OutcomeInput {
  cluster: Cluster;
  /** The Job's name. */
  name: string;
  execution: TaskExecution;
  maxOutputBytes: number;
  /** Makes a result (masking its error): AttemptReport.ended. */
  ended(status: TaskResult['status'], exitCode: number | null, error?: string, outputs?: Record<string, string>): TaskResult;
}

/** The attempt's result. */
export async function attemptOutcome(supervised: Supervised, input: OutcomeInput): Promise<TaskResult> {
  const { ending: end, podName, podReason, results } = supervised;
  const { ended, execution } = input;
  switch (end.kind) {
    case 'stopped':
      if (end.why.kind === 'timed_out') return ended('timed_out', null, `timed out after ${durationText(end.why.afterMs)}`);
      if (end.why.kind === 'cancelled') return ended('cancelled', null, 'cancelled');
      return ended('failed', null, 'the kubernetes runner was closed while the task ran; its Job was deleted');
    case 'failed':
      return ended('failed', null, end.error);
    case 'vanished':
      return ended(...(await vanished(input.cluster, input.name)));
    case 'job-failed':
      // DeadlineExceeded: activeDeadlineSeconds, the backstop beyond the task's timeout, passed first.
      return ended(end.reason === 'DeadlineExceeded' ? 'timed_out' : 'failed', null, `the Job ${input.name} failed before it had a pod (${end.reason}${end.message ? `: ${end.message}` : ''})`);
    case 'exited': {
      if (results === undefined) {
        const container = end.reason && end.reason !== 'Error' && end.reason !== 'Completed' ? ` (${end.reason}${end.message ? `: ${end.message}` : ''})` : '';
        const why = `${container}${podReason ? ` (the pod: ${podReason})` : ''}`;
        if (end.exitCode !== 0) return ended('failed', end.exitCode, `exit code ${end.exitCode}${why}${oomHint(end.reason, execution.resources)}`);
        return ended('failed', null, `the pod ${podName} ended, but the task's results were not in its log (was the log cut short?)`);
      }
      let parsed;
      try {
        parsed = parseResults(results);
      } catch (error) {
        return ended('failed', null, `${messageOf(error)} (read from the log of pod ${podName})`);
      }
      if (parsed.exitCode !== 0) return ended('failed', parsed.exitCode, `exit code ${parsed.exitCode}${oomHint(end.reason, execution.resources)}`);
      const read = await collectOutputs(execution.outputs, parsed.source, input.maxOutputBytes);
      return read.ok ? ended('succeeded', 0, undefined, read.outputs) : ended('failed', 0, read.error);
    }
    default:
      return assertNever(end);
  }
}

/** The pod went away by itself: the Job's conditions say why, when they can be read. */
async function vanished(cluster: Cluster, name: string): Promise<[TaskResult['status'], null, string]> {
  try {
    const job = await withTimeout(cluster.batch.readNamespacedJob({ name, namespace: cluster.namespace }));
    const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed?.reason === 'DeadlineExceeded') return ['timed_out', null, `the Job ${name} passed its activeDeadlineSeconds (${job.spec?.activeDeadlineSeconds}s) and Kubernetes stopped it`];
    if (failed) return ['failed', null, `the pod of the Job ${name} was deleted before the task ended (the Job failed: ${failed.reason ?? ''}${failed.message ? ` ${failed.message}` : ''})`];
  } catch (error) {
    if (statusOf(error) === 404) return ['failed', null, `the Job ${name} was deleted (by someone else) before the task ended`];
  }
  return ['failed', null, `the pod of the Job ${name} was deleted before the task ended (evicted, or deleted by someone)`];
}

function oomHint(reason: string | undefined, resources: TaskExecution['resources']): string {
  if (reason !== 'OOMKilled') return '';
  return ` (the container ran out of memory${resources?.memoryBytes ? `: its limit is ${sizeText(resources.memoryBytes)}` : ''})`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
