// The batch/v1 Job of one kubernetes attempt, and the names and labels on it. The Job holds no
// value of the task's (env, secrets, commands): those travel in the attempt's Secret. A task with
// commands runs the wrapper, mounted read-only from the Secret, through the entry script (ENTRY),
// which tags its stderr so the runner can tell it apart in the merged log. A task without
// commands runs its image as built ("plain"): no command, the Secret's keys as its environment.
import { randomBytes } from 'node:crypto';
import type { V1Container, V1Job } from '@kubernetes/client-node';
import type { TaskExecution } from './runner.js';
import { VARIABLE_NAME } from './task-script.js';

/** The labels of every Job (and its pod and Secret) this runner creates. */
export const KUBERNETES_LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  run: 'eventops.dev/run',
  task: 'eventops.dev/task',
  attempt: 'eventops.dev/attempt',
  worker: 'eventops.dev/worker',
  /** On the pod template only: the Job's name, which selects the attempt's pod. */
  job: 'eventops.dev/job',
} as const;

/** The name of the task's container in the pod. */
export const CONTAINER = 'task';
/** Where the Secret with the wrapper is mounted in the container. */
const MOUNT = '/eventops';
/** A finished Job left behind (keepJobs, or a runner that died) is removed by Kubernetes after this. */
export const TTL_SECONDS = 3600;
/** Where a plain container writes `$EVENTOPS_OUTPUT`: its termination log, which the kubelet reports in the container's terminated state. */
export const TERMINATION_LOG = '/dev/termination-log';
/** The kubelet keeps this much of the termination log: its last 4096 bytes. */
export const TERMINATION_LOG_BYTES = 4096;
/** The Job's activeDeadlineSeconds is the timeout plus this, so the runner's own timeout acts first. */
const DEADLINE_MARGIN_SECONDS = 60;

// The container's first process (PID 1: it ignores signals it has no trap for, so it passes
// SIGTERM on). $1 is the wrapper, $2 the stderr tag. The task's stderr goes through a FIFO whose
// reader prefixes each line with the tag; the reader gets 2 s to finish after the wrapper ended
// (a process that left the task's session may hold the FIFO open). Should the image be unable to
// make a FIFO (no mkfifo, no writable /tmp), stderr is reported as stdout, and the log says so.
const ENTRY = [
  'run=$1 tag=$2 reader=',
  'fifo="${TMPDIR:-/tmp}/eventops-stderr-$$"',
  'if mkfifo -m 600 "$fifo" 2>/dev/null; then',
  `  while IFS= read -r line || [ -n "$line" ]; do printf '%s%s\\n' "$tag" "$line"; done < "$fifo" &`,
  '  reader=$!',
  '  sh "$run" 2> "$fifo" &',
  'else',
  '  echo "eventops: could not make a FIFO in ${TMPDIR:-/tmp}; stderr is reported as stdout"',
  '  sh "$run" 2>&1 &',
  'fi',
  'pid=$!',
  `trap 'kill -15 "$pid" 2>/dev/null' TERM INT HUP`,
  'while :; do',
  '  wait "$pid"; code=$?',
  '  kill -0 "$pid" 2>/dev/null || break',
  'done',
  'trap - TERM INT HUP',
  'if [ -n "$reader" ]; then',
  '  rm -f "$fifo"',
  '  (sleep 2; kill "$reader" 2>/dev/null) &',
  '  timer=$!',
  '  wait "$reader"',
  '  kill "$timer" 2>/dev/null',
  'fi',
  'exit "$code"',
].join('\n');

/** How the container runs the task: the wrapper (its commands), or the image as built. */
export type JobMode = { kind: 'wrapper'; stderrTag: string } | { kind: 'plain'; execution: Pick<TaskExecution, 'runId' | 'task' | 'attempt'> };

export interface JobInput {
  name: string;
  /** The attempt's Secret: `run.sh` (the wrapper), or the task's env as keys (plain). */
  secretName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  image: string;
  resources: TaskExecution['resources'];
  timeoutMs: number | undefined;
  graceSeconds: number;
  mode: JobMode;
}

/** The Job of one attempt: backoffLimit 0, restartPolicy Never, activeDeadlineSeconds and ttlSecondsAfterFinished as backstops. */
export function jobSpec(input: JobInput): V1Job {
  const limits: Record<string, string> = {};
  if (input.resources?.cpu !== undefined) limits.cpu = `${Math.max(1, Math.ceil(input.resources.cpu * 1000))}m`;
  if (input.resources?.memoryBytes !== undefined) limits.memory = String(Math.ceil(input.resources.memoryBytes));
  const hasLimits = Object.keys(limits).length > 0;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: input.name, labels: input.labels, annotations: input.annotations },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: TTL_SECONDS,
      ...(input.timeoutMs === undefined ? {} : { activeDeadlineSeconds: Math.ceil(input.timeoutMs / 1000) + DEADLINE_MARGIN_SECONDS }),
      template: {
        metadata: { labels: { ...input.labels, [KUBERNETES_LABELS.job]: input.name }, annotations: input.annotations },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: input.graceSeconds,
          // The task gets no credentials for the cluster, and no variables naming its services.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          containers: [
            {
              name: CONTAINER,
              image: input.image,
              ...(input.mode.kind === 'wrapper' ? wrapperContainer(input.mode.stderrTag) : plainContainer(input.secretName, input.mode.execution)),
              ...(hasLimits ? { resources: { limits, requests: limits } } : {}),
            },
          ],
          ...(input.mode.kind === 'wrapper' ? { volumes: [{ name: 'eventops', secret: { secretName: input.secretName, defaultMode: 0o444 } }] } : {}),
        },
      },
    },
  };
}

function wrapperContainer(stderrTag: string): Omit<V1Container, 'name'> {
  return {
    command: ['sh', '-c', ENTRY, 'eventops-entry', `${MOUNT}/run.sh`, stderrTag],
    volumeMounts: [{ name: 'eventops', mountPath: MOUNT, readOnly: true }],
  };
}

// No command or args: the image's ENTRYPOINT and CMD run. The task's env comes from the Secret,
// so its values stay out of the spec; `env` (which wins over `envFrom`) holds only the runner's own.
function plainContainer(secretName: string, execution: Pick<TaskExecution, 'runId' | 'task' | 'attempt'>): Omit<V1Container, 'name'> {
  return {
    envFrom: [{ secretRef: { name: secretName } }],
    env: [
      { name: 'EVENTOPS_RUN_ID', value: execution.runId },
      { name: 'EVENTOPS_TASK', value: execution.task },
      { name: 'EVENTOPS_ATTEMPT', value: String(execution.attempt) },
      { name: 'EVENTOPS_OUTPUT', value: TERMINATION_LOG },
    ],
    terminationMessagePath: TERMINATION_LOG,
    terminationMessagePolicy: 'File',
  };
}

/** The labels and annotations of an attempt's Job, pod and Secret. Label values are cut to what Kubernetes allows; the annotations keep the exact names. */
export function attemptLabels(execution: TaskExecution, workerId: string | undefined): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: {
      [KUBERNETES_LABELS.managedBy]: 'eventops',
      [KUBERNETES_LABELS.run]: labelValue(execution.runId),
      [KUBERNETES_LABELS.task]: labelValue(execution.task),
      [KUBERNETES_LABELS.attempt]: String(execution.attempt),
      ...(workerId === undefined ? {} : { [KUBERNETES_LABELS.worker]: labelValue(workerId) }),
    },
    annotations: { [KUBERNETES_LABELS.run]: execution.runId, [KUBERNETES_LABELS.task]: execution.task, [KUBERNETES_LABELS.attempt]: String(execution.attempt) },
  };
}

/** `eventops-<task>-<attempt>-<random>`: a DNS-1123 label of at most 63 characters (a Job's name is a pod label). */
export function jobName(task: string, attempt: number): string {
  const suffix = `-${attempt}-${randomBytes(4).toString('hex')}`;
  const slug = task
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '');
  const cut = slug.slice(0, Math.max(0, 63 - 'eventops-'.length - suffix.length)).replace(/-+$/, '');
  return `eventops-${cut || 'task'}${suffix}`;
}

/** A label value Kubernetes accepts: at most 63 of `[A-Za-z0-9_.-]`, starting and ending alphanumeric. */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}

/** Why a task without commands cannot run as its image was built; undefined when it can. */
export function plainProblem(execution: TaskExecution): string | undefined {
  const captured = execution.outputs.find((o) => o.fromEnv !== undefined || o.fromFile !== undefined);
  if (captured) return `output "${captured.name}": ${captured.fromEnv !== undefined ? `fromEnv "${captured.fromEnv}"` : `fromFile "${captured.fromFile}"`} needs \`commands\`: a task without commands runs its image as built, and its outputs can only be name=value lines written to $EVENTOPS_OUTPUT (at most ${TERMINATION_LOG_BYTES} bytes); add commands, or write the output there`;
  const badEnv = Object.keys(execution.env).find((name) => !VARIABLE_NAME.test(name));
  if (badEnv !== undefined) return `env "${badEnv}" is not a variable name (letters, digits and _, not starting with a digit)`;
  return undefined;
}

/** Why the task's resources cannot become the container's limits; undefined when they can. */
export function resourcesProblem(resources: TaskExecution['resources']): string | undefined {
  if (resources?.cpu !== undefined && !(Number.isFinite(resources.cpu) && resources.cpu > 0)) return `resources: cpu ${resources.cpu} is not a positive number of cores`;
  if (resources?.memoryBytes !== undefined && !(Number.isFinite(resources.memoryBytes) && resources.memoryBytes > 0)) return `resources: memory ${resources.memoryBytes} is not a positive number of bytes`;
  return undefined;
}
