// What the end of a kubernetes attempt means for the task: its status, exit code, error and
// outputs, read from how supervision ended (kubernetes-supervise.ts) and the results the wrapper
// printed in the pod's log — or, for an image run as built, the container's exit code and its
// termination log (`$EVENTOPS_OUTPUT` there). When the pod went away by itself, the Job's
// conditions say why.
import type { TaskExecution, TaskResult } from './runner.js';
import { messageOf, statusOf, withTimeout, type Cluster } from './kubernetes-api.js';
import type { Supervised } from './kubernetes-supervise.js';
import { TERMINATION_LOG, TERMINATION_LOG_BYTES } from './kubernetes-job.js';
import { parseResults } from './remote-script.js';
import { collectOutputs, sizeText, type OutputSource } from './read-outputs.js';
import { durationText } from './duration-text.js';

export interface OutcomeInput {
  cluster: Cluster;
  /** The Job's name. */
  name: string;
  execution: TaskExecution;
  /** The image ran as built (no commands, no wrapper): no results in the log. */
  plain: boolean;
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
        const container = end.reason && end.reason !== 'Error' && end.reason !== 'Completed' ? ` (${end.reason}${end.message?.trim() ? `: ${end.message.trim()}` : ''})` : '';
        const why = `${container}${podReason ? ` (the pod: ${podReason})` : ''}`;
        if (end.exitCode !== 0) return ended('failed', end.exitCode, `exit code ${end.exitCode}${why}${oomHint(end.reason, execution.resources)}`);
        if (input.plain) return plainOutputs(end.message, input);
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

/** The outputs of an image run as built: its termination log, read as `$EVENTOPS_OUTPUT` is read. */
async function plainOutputs(message: string | undefined, input: OutcomeInput): Promise<TaskResult> {
  const bytes = Buffer.from(message ?? '');
  // The kubelet keeps the last bytes of a longer log: its first lines would be lost, or misread.
  if (bytes.length >= TERMINATION_LOG_BYTES) return input.ended('failed', 0, `$EVENTOPS_OUTPUT (${TERMINATION_LOG}) holds ${TERMINATION_LOG_BYTES} bytes or more, and Kubernetes keeps only its last ${TERMINATION_LOG_BYTES}: write less there, or give the task commands (their outputs have no such limit)`);
  // Only the outputs file exists in this mode (fromEnv and fromFile were refused before the start).
  const source: OutputSource = {
    outputFile: async () => ({ kind: 'read', bytes }),
    capture: async () => ({ kind: 'missing' }),
    file: async () => ({ kind: 'missing' }),
  };
  const read = await collectOutputs(input.execution.outputs, source, input.maxOutputBytes);
  return read.ok ? input.ended('succeeded', 0, undefined, read.outputs) : input.ended('failed', 0, read.error);
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
