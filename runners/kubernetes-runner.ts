// The `kubernetes` runner: one batch/v1 Job per attempt in the actuator's namespace. The shared
// wrapper (remote-script.ts) travels in a Secret owned by the Job and mounted read-only, so the
// task's environment, secrets and commands never enter the Job or Pod spec (kubernetes-job.ts);
// the runner watches the pod, follows its log and reads the results the wrapper prints after the
// task's output (kubernetes-supervise.ts, kubernetes-log.ts, kubernetes-outcome.ts). Timeout,
// cancel and close() delete the Job and its pod; the Job, its pod and the Secret are always
// deleted after the attempt. The timeout counts from the Job's creation, so scheduling and the
// image pull are part of it. The image needs a POSIX `sh` (`base64` for outputs, `setsid` to
// signal a task's whole tree) — unless the task has no commands: then the image runs as built,
// its env comes from the Secret, its log is stdout, and its outputs are the `name=value` lines it
// wrote to `$EVENTOPS_OUTPUT`, the container's termination log. Configuration problems and refusals of the API server end each
// attempt as `failed` saying what to fix; `run` rejects only once the runner is closed, or when
// `io.onLine` threw. A pod the cluster refuses to create fails the attempt at once, or is waited
// for when the refusal lifts by itself (a quota). RBAC needed in the namespace: secrets (create,
// patch, delete), jobs (create, get, delete), pods (list, watch, delete), pods/log (get), events
// (list).
import { randomBytes } from 'node:crypto';
import type { V1Job, V1Secret } from '@kubernetes/client-node';
import type { Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import { executionProblem, remoteScript } from './remote-script.js';
import { apiMessage, hint, statusOf, withTimeout, type Cluster } from './kubernetes-api.js';
import { loadCluster, type ClusterOptions } from './kubernetes-cluster.js';
import { attemptLabels, jobName, jobSpec, plainProblem, resourcesProblem, TTL_SECONDS, type JobMode } from './kubernetes-job.js';
import { plainLog, wrapperLog } from './kubernetes-log.js';
import { superviseJob } from './kubernetes-supervise.js';
import { attemptOutcome } from './kubernetes-outcome.js';

export { jobName, labelValue, KUBERNETES_LABELS } from './kubernetes-job.js';

export interface KubernetesRunnerOptions extends ClusterOptions {
  /** The largest value one output may have, in bytes; default 1 MiB. */
  maxOutputBytes?: number;
  /** Between SIGTERM and SIGKILL when a task is stopped (the pod's terminationGracePeriodSeconds, rounded up); default 5000. */
  killGraceMs?: number;
  /** Recorded in the `eventops.dev/worker` label of each Job. */
  workerId?: string;
  /** Leave the Job, its pod and its Secret after the attempt (to debug a task); ttlSecondsAfterFinished still removes them an hour later. Default false. */
  keepJobs?: boolean;
}

interface Settings {
  maxOutputBytes: number;
  /** The pod's terminationGracePeriodSeconds: killGraceMs rounded up. */
  graceSeconds: number;
  workerId?: string;
  keepJobs: boolean;
}

/**
 * A runner of `kubernetes` tasks. The kubeconfig is read here, once; when it cannot be used, the
 * runner is still made and each attempt fails saying why (the actuator's config is at fault, not
 * the task, but the run shows it where people look).
 */
export function createKubernetesRunner(options: KubernetesRunnerOptions): Runner {
  const cluster = loadCluster(options);
  const settings: Settings = {
    maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
    graceSeconds: Math.max(0, Math.ceil((options.killGraceMs ?? 5_000) / 1000)),
    ...(options.workerId === undefined ? {} : { workerId: options.workerId }),
    keepJobs: options.keepJobs ?? false,
  };
  const closing = new AbortController();
  const running = new Set<Promise<unknown>>();
  let closed: Promise<void> | undefined;
  return {
    type: 'kubernetes',
    async run(execution, io) {
      if (closed) throw new Error('the kubernetes runner is closed');
      const attempt = runAttempt(execution, io, settings, cluster, closing.signal);
      const settled = attempt.catch(() => undefined);
      running.add(settled);
      void settled.then(() => running.delete(settled));
      return attempt;
    },
    // Running attempts are stopped (their Jobs deleted) and awaited; watches and log streams end with them.
    close() {
      return (closed ??= (async () => {
        closing.abort();
        await Promise.all(running);
      })());
    },
  };
}

async function runAttempt(execution: TaskExecution, io: RunnerIo, settings: Settings, cluster: Cluster | { error: string }, closing: AbortSignal): Promise<TaskResult> {
  const mask = createMasker(execution.secrets);
  // A throwing onLine is kept; the attempt still runs to its end and cleans up, then run() rejects.
  // Watches, log streams and deletions may still report after the result was returned: dropped.
  const report = attemptReport(execution, io, mask, mask, { quietAfterSettle: true });
  const { emit, ended } = report;

  if (io.signal.aborted || closing.aborted) {
    emit('system', 'cancelled before it started');
    return report.settle(ended('cancelled', null, 'cancelled'));
  }
  if ('error' in cluster) return report.settle(ended('failed', null, cluster.error));
  // No commands: the image runs as built (its ENTRYPOINT and CMD), as Tekton and Argo run a step.
  const plain = execution.commands.length === 0;
  const image = execution.image ?? '';
  if (image.trim() === '') return report.settle(ended('failed', null, `a kubernetes task needs an image: set \`image\` on the task${plain ? '' : ' (an image with a POSIX sh, to run its commands)'}`));
  const problem = (plain ? plainProblem(execution) : executionProblem(execution)) ?? resourcesProblem(execution.resources);
  if (problem !== undefined) return report.settle(ended('failed', null, problem));
  if (plain && (execution.workdir !== undefined || execution.shell !== undefined)) emit('system', 'workdir and shell are not used: the task has no commands, so its image runs as built');

  // Narrowed here once: startJob, below, cannot see the check above.
  const kube: Cluster = cluster;
  const { core, batch, namespace } = kube;
  const wrapper = plain ? undefined : remoteScript(execution, { maxOutputBytes: settings.maxOutputBytes, printResults: true });
  const stderrTag = `::eventops-stderr-${randomBytes(8).toString('hex')}::`;
  const name = jobName(execution.task, execution.attempt);
  const secretName = `${name}-${wrapper ? 'script' : 'env'}`;
  const { labels, annotations } = attemptLabels(execution, settings.workerId);
  const where = `namespace "${namespace}" of ${cluster.server}`;

  const secret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, labels, annotations },
    type: 'Opaque',
    immutable: true,
    // The wrapper (which exports the env); or, for an image run as built, the env itself, one key a variable.
    data: wrapper ? { 'run.sh': base64(wrapper.text) } : Object.fromEntries(Object.entries(execution.env).map(([key, value]) => [key, base64(value)])),
  };
  try {
    await withTimeout(core.createNamespacedSecret({ namespace, body: secret }));
  } catch (error) {
    // Without an answer the Secret may exist all the same: it holds the task's environment.
    if (statusOf(error) === undefined && !settings.keepJobs) await withTimeout(core.deleteNamespacedSecret({ name: secretName, namespace })).catch(() => undefined);
    return report.settle(ended('failed', null, `could not create the Secret ${secretName} in ${where}: ${apiMessage(error)}${hint(error)}`));
  }

  let jobCreated = false;
  let owned = false;
  let result: TaskResult;
  try {
    result = await startJob();
  } finally {
    if (!settings.keepJobs) {
      if (jobCreated) {
        await withTimeout(batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' })).catch((error: unknown) => {
          if (statusOf(error) !== 404) emit('system', `could not delete the Job ${name} in ${where}: ${apiMessage(error)}; Kubernetes removes it ${TTL_SECONDS / 3600}h after it finished`);
        });
      }
      await withTimeout(core.deleteNamespacedSecret({ name: secretName, namespace })).catch((error: unknown) => {
        if (statusOf(error) !== 404) emit('system', `could not delete the Secret ${secretName} in ${where}: ${apiMessage(error)}; ${owned ? 'it goes with its Job' : "delete it by hand (it holds the task's environment)"}`);
      });
    }
  }
  return report.settle(result);

  async function startJob(): Promise<TaskResult> {
    if (io.signal.aborted || closing.aborted) {
      emit('system', 'cancelled before it started');
      return ended('cancelled', null, 'cancelled');
    }
    const mode: JobMode = wrapper ? { kind: 'wrapper', stderrTag } : { kind: 'plain', execution };
    const job = jobSpec({ name, secretName, labels, annotations, image, resources: execution.resources, timeoutMs: execution.timeoutMs, graceSeconds: settings.graceSeconds, mode });
    let created: V1Job;
    try {
      created = await withTimeout(batch.createNamespacedJob({ namespace, body: job }));
      jobCreated = true;
    } catch (error) {
      // A Job the API server made although its answer got lost is deleted all the same.
      jobCreated = statusOf(error) === undefined;
      return ended('failed', null, `could not create the Job ${name} in ${where}: ${apiMessage(error)}${hint(error)}`);
    }
    const uid = created.metadata?.uid;
    if (uid !== undefined) {
      // The Secret goes with its Job if the runner cannot delete it itself (a crash).
      const owner = [{ apiVersion: 'batch/v1', kind: 'Job', name, uid }];
      await withTimeout(core.patchNamespacedSecret({ name: secretName, namespace, body: [{ op: 'add', path: '/metadata/ownerReferences', value: owner }] })).then(
        () => (owned = true),
        (error: unknown) => emit('system', `could not make the Job ${name} the owner of its Secret (${apiMessage(error)}); the runner deletes the Secret itself`),
      );
    }
    const log = wrapper ? wrapperLog({ markers: wrapper.markers, stderrTag, maxOutputBytes: settings.maxOutputBytes, mask, emitMasked: report.emitMasked }) : plainLog({ mask, emitMasked: report.emitMasked });
    const supervised = await superviseJob({ cluster: kube, name, uid, where, image, timeoutMs: execution.timeoutMs, graceSeconds: settings.graceSeconds, signal: io.signal, closing, log, emit });
    return attemptOutcome(supervised, { cluster: kube, name, execution, plain: wrapper === undefined, maxOutputBytes: settings.maxOutputBytes, ended });
  }
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}
