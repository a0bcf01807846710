// The `kubernetes` runner: one batch/v1 Job per attempt in the actuator's namespace (backoffLimit
// 0, restartPolicy Never, an activeDeadlineSeconds backstop, ttlSecondsAfterFinished in case the
// runner dies). The shared wrapper (remote-script.ts) travels in a Secret owned by the Job and
// mounted read-only, so the task's environment, secrets and commands never enter the Job or Pod
// spec. The runner watches the pod, follows its log, and reads the results the wrapper prints
// between markers after the task's own output (a pod leaves no file to fetch). Timeout, cancel and
// close() delete the Job and its pod (SIGTERM, SIGKILL after terminationGracePeriodSeconds =
// killGraceMs); the Job, its pod and the Secret are always deleted after the attempt. The timeout
// counts from the Job's creation, so scheduling and the image pull are part of it.
//
// Kubernetes merges a container's stdout and stderr into one log. To tell them apart again the
// container's entry script (ENTRY below) sends the task's stderr through a FIFO that prefixes each
// line with a per-attempt tag; lines without it are stdout. Should the image be unable to make a
// FIFO (no mkfifo, no writable /tmp), stderr is reported as stdout, and the log says so.
//
// The image needs a POSIX `sh` (and `base64` for outputs, `setsid` to signal a task's whole tree);
// the wrapper makes its folders under `${TMPDIR:-/tmp}`. Configuration problems (a kubeconfig that
// cannot be read, a context it lacks) and refusals of the API server (RBAC, a missing namespace)
// end each attempt as `failed` with a message saying what to fix; `run` rejects only once the runner
// is closed, or when `io.onLine` threw. RBAC needed in the namespace: secrets (create, patch,
// delete), jobs (create, get, delete), pods (list, watch, delete), pods/log (get).
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, type V1Job, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import type { Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import { createLineSplitter, MAX_LINE_BYTES } from './line-splitter.js';
import { createResultsSplitter, executionProblem, parseResults, remoteScript } from './remote-script.js';
import { collectOutputs, OUTPUT_FILE_FACTOR, sizeText } from './read-outputs.js';
import { durationText } from './duration-text.js';

export interface KubernetesRunnerOptions {
  /** A kubeconfig's YAML text (a resolved secret value); or inCluster. Exactly one. */
  kubeconfig?: string;
  /** Use the service account of the pod eventops runs in. */
  inCluster?: boolean;
  /** The kubeconfig context to use; default its current context. */
  context?: string;
  /** Where Jobs are created; default the context's namespace, else `default`. */
  namespace?: string;
  /** The largest value one output may have, in bytes; default 1 MiB. */
  maxOutputBytes?: number;
  /** Between SIGTERM and SIGKILL when a task is stopped (the pod's terminationGracePeriodSeconds, rounded up); default 5000. */
  killGraceMs?: number;
  /** Recorded in the `eventops.dev/worker` label of each Job. */
  workerId?: string;
  /** Leave the Job, its pod and its Secret after the attempt (to debug a task); ttlSecondsAfterFinished still removes them an hour later. Default false. */
  keepJobs?: boolean;
}

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

/** Where the Secret with the wrapper is mounted in the container. */
const MOUNT = '/eventops';
const CONTAINER = 'task';
/** A finished Job left behind (keepJobs, or a runner that died) is removed by Kubernetes after this. */
const TTL_SECONDS = 3600;
/** The Job's activeDeadlineSeconds is the timeout plus this, so the runner's own timeout acts first. */
const DEADLINE_MARGIN_SECONDS = 60;
/** How long a stopped pod may take beyond its grace period before the runner stops waiting for it. */
const STOP_MARGIN_MS = 15_000;
/** How long the API server may stay unreachable while a task runs before the attempt fails. */
const LOST_CONTACT_MS = 60_000;
/** An answer to one API request must come within this. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Waiting reasons that mean the image cannot be had: the attempt fails at once. */
const IMAGE_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
/** Waiting reasons too ordinary to report. */
const QUIET_WAITING = new Set(['ContainerCreating', 'PodInitializing']);
/** setTimeout fires at once beyond this (about 24.8 days); longer delays wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

// The container's first process (PID 1: it ignores signals it has no trap for, so it passes
// SIGTERM on). $1 is the wrapper, $2 the stderr tag. The task's stderr goes through a FIFO whose
// reader prefixes each line with the tag; the reader gets 2 s to finish after the wrapper ended
// (a process that left the task's session may hold the FIFO open).
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

interface Cluster {
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  namespace: string;
  /** The API server's address, for messages. */
  server: string;
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

type Stop = { kind: 'timed_out'; afterMs: number } | { kind: 'cancelled' } | { kind: 'closed' };

type Ending =
  | { kind: 'exited'; exitCode: number; reason?: string; message?: string }
  | { kind: 'stopped'; why: Stop }
  | { kind: 'vanished' }
  | { kind: 'failed'; error: string };

async function runAttempt(execution: TaskExecution, io: RunnerIo, settings: Settings, cluster: Cluster | { error: string }, closing: AbortSignal): Promise<TaskResult> {
  const mask = createMasker(execution.secrets);
  // A throwing onLine is kept; the attempt still runs to its end and cleans up, then run() rejects.
  // Watches, log streams and deletions may still report after the result was returned: dropped.
  const report = attemptReport(execution, io, mask, mask, { quietAfterSettle: true });
  const { emit, emitMasked, ended } = report;

  if (io.signal.aborted || closing.aborted) {
    emit('system', 'cancelled before it started');
    return report.settle(ended('cancelled', null, 'cancelled'));
  }
  if ('error' in cluster) return report.settle(ended('failed', null, cluster.error));
  if (execution.image === undefined || execution.image.trim() === '') return report.settle(ended('failed', null, 'a kubernetes task needs an image: set `image` on the task (an image with a POSIX sh)'));
  const problem = executionProblem(execution) ?? resourcesProblem(execution.resources);
  if (problem !== undefined) return report.settle(ended('failed', null, problem));

  const { core, batch, namespace } = cluster;
  const wrapper = remoteScript(execution, { maxOutputBytes: settings.maxOutputBytes, printResults: true });
  const nonce = randomBytes(8).toString('hex');
  const stderrTag = `::eventops-stderr-${nonce}::`;
  const name = jobName(execution.task, execution.attempt);
  const secretName = `${name}-script`;
  const labels: Record<string, string> = {
    [KUBERNETES_LABELS.managedBy]: 'eventops',
    [KUBERNETES_LABELS.run]: labelValue(execution.runId),
    [KUBERNETES_LABELS.task]: labelValue(execution.task),
    [KUBERNETES_LABELS.attempt]: String(execution.attempt),
    ...(settings.workerId === undefined ? {} : { [KUBERNETES_LABELS.worker]: labelValue(settings.workerId) }),
  };
  // Label values are cut to what Kubernetes allows; the exact names are kept in annotations.
  const annotations = { [KUBERNETES_LABELS.run]: execution.runId, [KUBERNETES_LABELS.task]: execution.task, [KUBERNETES_LABELS.attempt]: String(execution.attempt) };
  const where = `namespace "${namespace}" of ${cluster.server}`;

  const secret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, labels, annotations },
    type: 'Opaque',
    immutable: true,
    data: { 'run.sh': Buffer.from(wrapper.text).toString('base64') },
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
    const job = jobSpec({ name, secretName, labels, annotations, image: execution.image!, resources: execution.resources, timeoutMs: execution.timeoutMs, graceSeconds: settings.graceSeconds, stderrTag });
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
    return superviseJob();
  }

  /** Watches the pod, follows its log, stops it when asked; resolves with the attempt's result. */
  async function superviseJob(): Promise<TaskResult> {
    const streams = new AbortController();
    let finished = false;
    let settle!: (ending: Ending) => void;
    const ending = new Promise<Ending>((resolve) => (settle = resolve));
    const timers = new Set<NodeJS.Timeout>();
    const later = (ms: number, action: () => void) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        action();
      }, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
      timers.add(timer);
    };
    const done = (value: Ending) => {
      if (finished) return;
      finished = true;
      settle(value);
    };

    // Lines: the log is cut into whole lines first (a printed result may be as long as the largest
    // output allows), then each task line longer than MAX_LINE_BYTES is cut like the local runner's.
    let resultsState: 'before' | 'inside' | 'after' = 'before';
    const taskLine = (stream: 'stdout' | 'stderr', text: string) => {
      const masked = mask(text);
      if (Buffer.byteLength(masked) <= MAX_LINE_BYTES) return emitMasked(stream, masked);
      const pieces = createLineSplitter((piece) => emitMasked(stream, piece));
      pieces.write(Buffer.from(masked));
      pieces.end();
    };
    const results = createResultsSplitter(wrapper.markers, (text) => taskLine('stdout', text));
    const resultsLineBytes = Math.ceil((settings.maxOutputBytes * OUTPUT_FILE_FACTOR * 4) / 3) + 4096;
    // A stderr line may arrive while stdout has written part of a line (one pipe, two writers): the
    // part before the tag is kept and continued by the next stdout line.
    let stdoutPart: string | undefined;
    const lines = createLineSplitter((text) => {
      const tagAt = text.indexOf(stderrTag);
      if (tagAt >= 0) {
        if (tagAt > 0) stdoutPart = (stdoutPart ?? '') + text.slice(0, tagAt);
        return taskLine('stderr', text.slice(tagAt + stderrTag.length));
      }
      const line = stdoutPart === undefined ? text : stdoutPart + text;
      stdoutPart = undefined;
      if (resultsState === 'before' && line === wrapper.markers.start) resultsState = 'inside';
      else if (resultsState === 'inside' && line === wrapper.markers.end) resultsState = 'after';
      results.line(line);
    }, resultsLineBytes);
    const endLines = () => {
      lines.end();
      if (stdoutPart !== undefined) results.line(stdoutPart);
      stdoutPart = undefined;
      return results.end();
    };

    // What is known of the pod.
    let podName: string | undefined;
    let started = false;
    let terminated: { exitCode: number; reason?: string; message?: string } | undefined;
    let gone = false;
    let podFailure: string | undefined;
    /** Why Kubernetes ended the pod (Evicted, DeadlineExceeded…), when it says. */
    let podReason: string | undefined;
    let imageFailure: string | undefined;
    let stopping: Stop | undefined;
    const reported = new Set<string>();
    const reportOnce = (key: string, text: string) => {
      if (reported.has(key)) return;
      reported.add(key);
      emit('system', text);
    };

    // The log: followed from its start. A stream that ends before the container is known to have
    // ended (the API server's and the kubelet's streams time out; or the news of the end is just
    // late) is read again from the byte it broke off at, once the container ended or after a while.
    let logState: 'idle' | 'reading' | 'early' | 'retry' | 'done' = 'idle';
    let logBytes = 0;
    let logFailures = 0;
    let logProblem: string | undefined;
    const readLog = () => {
      logState = 'reading';
      const whole = terminated !== undefined;
      const skip = logBytes;
      let skipped = 0;
      void openStream(cluster as Cluster, {
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName!)}/log`,
        query: { container: CONTAINER, follow: 'true' },
        signal: streams.signal,
        onData(chunk) {
          let data = chunk;
          if (skipped < skip) {
            const n = Math.min(skip - skipped, data.length);
            skipped += n;
            data = data.subarray(n);
            if (data.length === 0) return;
          }
          logBytes += data.length;
          lines.write(data);
        },
      }).then((end) => {
        if (finished || end.kind === 'aborted') return;
        if (end.kind === 'failed') {
          // 404: the pod is gone; 400 once the container ended: it left no log.
          if (end.status === 404 || (end.status === 400 && (terminated || gone))) {
            logState = 'done';
          } else if (++logFailures > 5) {
            logState = 'done';
            logProblem = end.message;
          } else {
            logState = 'retry';
            later(Math.min(250 * 2 ** logFailures, 4_000), () => {
              if (logState === 'retry') logState = 'idle';
              check();
            });
          }
        } else if (whole || resultsState === 'after' || gone || stopping) {
          logState = 'done';
        } else {
          logState = 'early';
          later(1_000, () => {
            if (logState === 'early') logState = 'idle';
            check();
          });
        }
        check();
      });
    };

    const onPod = (type: string, pod: V1Pod) => {
      if (finished) return;
      const podNameNow = pod.metadata?.name;
      if (podNameNow === undefined) return;
      // backoffLimit 0: one pod; should the Job controller make another, it goes with the Job.
      podName ??= podNameNow;
      if (podNameNow !== podName) return;
      if (type === 'DELETED') {
        gone = true;
        return check();
      }
      const status = pod.status?.containerStatuses?.find((s) => s.name === CONTAINER) ?? pod.status?.containerStatuses?.[0];
      const state = status?.state;
      if (state?.terminated && !terminated) {
        const t = state.terminated;
        terminated = { exitCode: t.exitCode, ...(t.reason ? { reason: t.reason } : {}), ...(t.message ? { message: t.message.trim() } : {}) };
      }
      if ((state?.running || state?.terminated) && !started) {
        started = true;
        emit('system', `running in pod ${podName} (image ${execution.image}) in ${where}${pod.spec?.nodeName ? `, on node ${pod.spec.nodeName}` : ''}`);
      }
      const waiting = state?.waiting;
      if (waiting?.reason && !started) {
        if (IMAGE_FAILURES.has(waiting.reason)) imageFailure ??= `could not pull the image "${execution.image}" (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}); check its name and tag, and that the cluster may pull it (imagePullSecrets of the namespace's default service account)`;
        else if (!QUIET_WAITING.has(waiting.reason)) reportOnce(`waiting ${waiting.reason}`, `pod ${podName} is waiting: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
      }
      const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
      if (unschedulable?.reason) reportOnce(`scheduling ${unschedulable.reason}`, `pod ${podName} cannot be scheduled yet: ${unschedulable.reason}${unschedulable.message ? `: ${unschedulable.message}` : ''}`);
      if (pod.status?.reason) podReason = `${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ''}`;
      if (pod.status?.phase === 'Failed' && !state?.terminated) podFailure ??= `the pod ${podName} failed${pod.status.reason ? ` (${pod.status.reason})` : ''}${pod.status.message ? `: ${pod.status.message}` : ''}`;
      check();
    };

    /** Decides, after anything happened, whether the attempt is over. */
    const check = () => {
      if (finished) return;
      if (logState === 'early' && (terminated || gone)) logState = 'idle';
      if (started && logState === 'idle' && !gone && podName !== undefined) readLog();
      if (stopping) {
        const podEnded = podName === undefined || gone || terminated !== undefined || !started;
        if (podEnded && logState !== 'reading') done({ kind: 'stopped', why: stopping });
        return;
      }
      if (imageFailure) return done({ kind: 'failed', error: imageFailure });
      if (terminated) {
        if (logState === 'done' || (logState === 'idle' && gone)) done({ kind: 'exited', ...terminated });
        return;
      }
      if (gone) return done({ kind: 'vanished' });
      if (podFailure) return done({ kind: 'failed', error: podFailure });
    };

    const stop = (why: Stop) => {
      if (finished || stopping || terminated) return;
      stopping = why;
      const label = why.kind === 'timed_out' ? `timed out after ${durationText(why.afterMs)}` : why.kind === 'cancelled' ? 'cancelled' : 'the runner is closing';
      emit('system', `${label}: stopping the task (deleting the Job ${name}; its pod gets SIGTERM, then SIGKILL after ${durationText(settings.graceSeconds * 1000)})`);
      void withTimeout(batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' })).catch((error: unknown) => {
        if (statusOf(error) !== 404) emit('system', `could not delete the Job ${name}: ${apiMessage(error)}`);
      });
      if (podName !== undefined) {
        void withTimeout(core.deleteNamespacedPod({ name: podName, namespace })).catch((error: unknown) => {
          if (statusOf(error) !== 404) emit('system', `could not delete the pod ${podName}: ${apiMessage(error)}`);
        });
      }
      later(settings.graceSeconds * 1000 + STOP_MARGIN_MS, () => {
        if (finished) return;
        emit('system', `the pod ${podName} has not ended ${durationText(settings.graceSeconds * 1000 + STOP_MARGIN_MS)} after it was deleted; Kubernetes will remove it`);
        done({ kind: 'stopped', why });
      });
      check();
    };

    const onAbort = () => stop({ kind: 'cancelled' });
    const onClose = () => stop({ kind: 'closed' });
    io.signal.addEventListener('abort', onAbort, { once: true });
    closing.addEventListener('abort', onClose, { once: true });
    const timeoutMs = execution.timeoutMs;
    if (timeoutMs !== undefined) later(timeoutMs, () => stop({ kind: 'timed_out', afterMs: timeoutMs }));
    void watchPods(cluster as Cluster, `${KUBERNETES_LABELS.job}=${name}`, streams.signal, onPod).then((lost) => {
      if (lost === undefined || finished) return;
      done(stopping ? { kind: 'stopped', why: stopping } : { kind: 'failed', error: `lost contact with the Kubernetes API server (${lost}); the Job ${name} in ${where} is deleted if it can be` });
    });
    if (io.signal.aborted) onAbort();
    if (closing.aborted) onClose();

    const end = await ending;
    streams.abort();
    for (const timer of timers) clearTimeout(timer);
    io.signal.removeEventListener('abort', onAbort);
    closing.removeEventListener('abort', onClose);
    const resultsText = endLines();
    if (logProblem !== undefined) emit('system', `could not read the log of pod ${podName}: ${logProblem}`);

    switch (end.kind) {
      case 'stopped':
        if (end.why.kind === 'timed_out') return ended('timed_out', null, `timed out after ${durationText(end.why.afterMs)}`);
        if (end.why.kind === 'cancelled') return ended('cancelled', null, 'cancelled');
        return ended('failed', null, 'the kubernetes runner was closed while the task ran; its Job was deleted');
      case 'failed':
        return ended('failed', null, end.error);
      case 'vanished':
        return ended(...(await vanished()));
      case 'exited': {
        if (resultsText === undefined) {
          const container = end.reason && end.reason !== 'Error' && end.reason !== 'Completed' ? ` (${end.reason}${end.message ? `: ${end.message}` : ''})` : '';
          const why = `${container}${podReason ? ` (the pod: ${podReason})` : ''}`;
          if (end.exitCode !== 0) return ended('failed', end.exitCode, `exit code ${end.exitCode}${why}${oomHint(end.reason, execution.resources)}`);
          return ended('failed', null, `the pod ${podName} ended, but the task's results were not in its log (was the log cut short?)`);
        }
        let parsed;
        try {
          parsed = parseResults(resultsText);
        } catch (error) {
          return ended('failed', null, `${messageOf(error)} (read from the log of pod ${podName})`);
        }
        if (parsed.exitCode !== 0) return ended('failed', parsed.exitCode, `exit code ${parsed.exitCode}${oomHint(end.reason, execution.resources)}`);
        const read = await collectOutputs(execution.outputs, parsed.source, settings.maxOutputBytes);
        return read.ok ? ended('succeeded', 0, undefined, read.outputs) : ended('failed', 0, read.error);
      }
      default:
        return assertNever(end);
    }
  }

  /** The pod went away by itself: the Job's conditions say why, when they can be read. */
  async function vanished(): Promise<[TaskResult['status'], null, string]> {
    try {
      const job = await withTimeout(batch.readNamespacedJob({ name, namespace }));
      const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed?.reason === 'DeadlineExceeded') return ['timed_out', null, `the Job ${name} passed its activeDeadlineSeconds (${job.spec?.activeDeadlineSeconds}s) and Kubernetes stopped it`];
      if (failed) return ['failed', null, `the pod of the Job ${name} was deleted before the task ended (the Job failed: ${failed.reason ?? ''}${failed.message ? ` ${failed.message}` : ''})`];
    } catch (error) {
      if (statusOf(error) === 404) return ['failed', null, `the Job ${name} was deleted (by someone else) before the task ended`];
    }
    return ['failed', null, `the pod of the Job ${name} was deleted before the task ended (evicted, or deleted by someone)`];
  }
}

interface JobInput {
  name: string;
  secretName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  image: string;
  resources: TaskExecution['resources'];
  timeoutMs: number | undefined;
  graceSeconds: number;
  stderrTag: string;
}

/** The Job of one attempt. It holds no value of the task's: those are in the Secret. */
function jobSpec(input: JobInput): V1Job {
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
              command: ['sh', '-c', ENTRY, 'eventops-entry', `${MOUNT}/run.sh`, input.stderrTag],
              volumeMounts: [{ name: 'eventops', mountPath: MOUNT, readOnly: true }],
              ...(hasLimits ? { resources: { limits, requests: limits } } : {}),
            },
          ],
          volumes: [{ name: 'eventops', secret: { secretName: input.secretName, defaultMode: 0o444 } }],
        },
      },
    },
  };
}

function loadCluster(options: KubernetesRunnerOptions): Cluster | { error: string } {
  const fail = (what: string) => ({ error: `the kubernetes actuator cannot be used: ${what}` });
  if ((options.kubeconfig !== undefined) === (options.inCluster === true)) return fail('give it exactly one of `kubeconfig` (a secret holding a kubeconfig) and `inCluster: true`');
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig !== undefined) {
      kc.loadFromString(options.kubeconfig);
    } else {
      if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) return fail('inCluster is set, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not: is eventops running in a pod?');
      kc.loadFromCluster();
    }
  } catch (error) {
    // Only the first line: YAML errors quote the text around the fault, which may hold a token.
    return fail(`its kubeconfig cannot be read: ${messageOf(error).split('\n')[0]}`);
  }
  const contexts = kc.getContexts().map((c) => c.name);
  if (options.context !== undefined) {
    if (!contexts.includes(options.context)) return fail(`its kubeconfig has no context "${options.context}" (it has: ${contexts.join(', ') || 'none'})`);
    kc.setCurrentContext(options.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context) return fail(kc.getCurrentContext() ? `its kubeconfig's current context "${kc.getCurrentContext()}" is not one of its contexts (${contexts.join(', ') || 'none'}); name one with \`context\`` : `its kubeconfig has no current-context; name one with \`context\` (it has: ${contexts.join(', ') || 'none'})`);
  const server = kc.getCurrentCluster();
  if (!server) return fail(`the kubeconfig's context "${context.name}" names a cluster "${context.cluster}" that the kubeconfig does not have`);
  if (server.server.startsWith('http:') && !server.skipTLSVerify) return fail(`the cluster "${server.name}" is served over plain HTTP (${stripCredentials(server.server)}); use https, or set insecure-skip-tls-verify for a test cluster`);
  const namespace = options.namespace ?? context.namespace?.trim() ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) return fail(`"${namespace}" is not a namespace name (lower-case letters, digits and -)`);
  return { kc, core: kc.makeApiClient(CoreV1Api), batch: kc.makeApiClient(BatchV1Api), namespace, server: stripCredentials(server.server) };
}

function resourcesProblem(resources: TaskExecution['resources']): string | undefined {
  if (resources?.cpu !== undefined && !(Number.isFinite(resources.cpu) && resources.cpu > 0)) return `resources: cpu ${resources.cpu} is not a positive number of cores`;
  if (resources?.memoryBytes !== undefined && !(Number.isFinite(resources.memoryBytes) && resources.memoryBytes > 0)) return `resources: memory ${resources.memoryBytes} is not a positive number of bytes`;
  return undefined;
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

function oomHint(reason: string | undefined, resources: TaskExecution['resources']): string {
  if (reason !== 'OOMKilled') return '';
  return ` (the container ran out of memory${resources?.memoryBytes ? `: its limit is ${sizeText(resources.memoryBytes)}` : ''})`;
}

// ---- the API server: streams, watches, errors ----

type StreamEnd = { kind: 'ended' } | { kind: 'aborted' } | { kind: 'failed'; status?: number; message: string };

interface StreamRequest {
  path: string;
  query: Record<string, string>;
  signal: AbortSignal;
  onData(chunk: Buffer): void;
}

/**
 * A streaming GET (a followed log, a watch), with the kubeconfig's TLS and credentials. The
 * client's own Log helper is not used: it leaves an aborted or broken stream's error unhandled.
 */
async function openStream(cluster: Cluster, request: StreamRequest): Promise<StreamEnd> {
  if (request.signal.aborted) return { kind: 'aborted' };
  const url = new URL(`${cluster.kc.getCurrentCluster()!.server.replace(/\/+$/, '')}${request.path}`);
  for (const [key, value] of Object.entries(request.query)) url.searchParams.set(key, value);
  const options: https.RequestOptions = {};
  try {
    await cluster.kc.applyToHTTPSOptions(options);
  } catch (error) {
    return { kind: 'failed', message: messageOf(error) };
  }
  return new Promise((resolve) => {
    let settled = false;
    const settle = (end: StreamEnd) => {
      if (settled) return;
      settled = true;
      request.signal.removeEventListener('abort', onAbort);
      resolve(end);
    };
    const send = url.protocol === 'https:' ? https.request : http.request;
    const req = send(url, { ...options, method: 'GET' }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < 65_536) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', () => undefined);
        res.on('close', () => settle({ kind: 'failed', status: res.statusCode ?? 0, message: `HTTP ${res.statusCode}: ${statusText(Buffer.concat(chunks).toString('utf8'))}` }));
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (!settled) request.onData(chunk);
      });
      res.on('error', (error) => settle(request.signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: error.message }));
      res.on('close', () => settle(request.signal.aborted ? { kind: 'aborted' } : res.complete ? { kind: 'ended' } : { kind: 'failed', message: 'the connection closed in the middle of the stream' }));
    });
    req.on('error', (error) => settle(request.signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: stripCredentials(error.message) }));
    const onAbort = () => {
      req.destroy();
      settle({ kind: 'aborted' });
    };
    request.signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}

/**
 * Lists the pods matching `selector`, then watches them from that list's resource version, and
 * lists again whenever the watch ends. Resolves when `signal` aborts (undefined), or with what went
 * wrong once the API server could not be reached for LOST_CONTACT_MS.
 */
async function watchPods(cluster: Cluster, selector: string, signal: AbortSignal, onPod: (type: string, pod: V1Pod) => void): Promise<string | undefined> {
  let failingSince: number | undefined;
  let failures = 0;
  const seen = new Set<string>();
  while (!signal.aborted) {
    let problem: string | undefined;
    try {
      const listed = await withTimeout(cluster.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: selector }));
      if (signal.aborted) return undefined;
      const names = new Set(listed.items.map((pod) => pod.metadata?.name ?? ''));
      // A pod deleted while no watch was open shows only by its absence.
      for (const name of seen) if (!names.has(name)) onPod('DELETED', { metadata: { name } });
      for (const pod of listed.items) {
        seen.add(pod.metadata?.name ?? '');
        onPod('MODIFIED', pod);
      }
      let version = listed.metadata?.resourceVersion;
      let expired = false;
      const events = createLineSplitter((line) => {
        if (line.trim() === '' || signal.aborted) return;
        let event: { type?: string; object?: V1Pod & { code?: number } };
        try {
          event = JSON.parse(line) as typeof event;
        } catch {
          return;
        }
        if (event.type === 'ERROR') {
          expired = true;
          return;
        }
        if (!event.type || !event.object) return;
        if (event.object.metadata?.resourceVersion) version = event.object.metadata.resourceVersion;
        if (event.type === 'BOOKMARK') return;
        const name = event.object.metadata?.name ?? '';
        if (event.type === 'DELETED') seen.delete(name);
        else seen.add(name);
        onPod(event.type, event.object);
      }, 16 * 1024 * 1024);
      const watchedAt = Date.now();
      const end = await openStream(cluster, {
        path: `/api/v1/namespaces/${encodeURIComponent(cluster.namespace)}/pods`,
        query: { watch: 'true', labelSelector: selector, allowWatchBookmarks: 'true', timeoutSeconds: '300', ...(version ? { resourceVersion: version } : {}) },
        signal,
        onData: (chunk) => events.write(chunk),
      });
      if (end.kind === 'aborted') return undefined;
      // The list worked, so the API server is there; a watch that failed or ended at once is retried after a pause.
      failingSince = undefined;
      if (end.kind === 'ended' && !expired && Date.now() - watchedAt > 1_000) {
        failures = 0;
        continue;
      }
    } catch (error) {
      problem = apiMessage(error);
    }
    if (problem !== undefined) {
      failingSince ??= Date.now();
      if (Date.now() - failingSince > LOST_CONTACT_MS) return problem;
    }
    failures++;
    await sleep(Math.min(250 * 2 ** Math.min(failures, 5), 5_000), signal);
  }
  return undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Rejects when the API server does not answer within REQUEST_TIMEOUT_MS. */
function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the API server within ${durationText(REQUEST_TIMEOUT_MS)}`)), REQUEST_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? (error.code as number) : undefined;
}

/** What the API server said: its Status message when there is one, never the client's dump of headers. */
function apiMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    const text = typeof body === 'string' ? statusText(body) : typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : '';
    return `HTTP ${error.code}${text ? `: ${text}` : error.code === 401 ? ': Unauthorized' : ''}`;
  }
  return stripCredentials(messageOf(error));
}

/** A Status object's message, or the start of a body that is not one. */
function statusText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON.
  }
  return body.trim().slice(0, 300);
}

function hint(error: unknown): string {
  switch (statusOf(error)) {
    case 401:
      return ' (the credentials of the kubeconfig were refused: renew the token or certificate in its secret)';
    case 403:
      return ' (give the account of the kubeconfig the rights this runner needs: create/patch/delete secrets, create/get/delete jobs, list/watch/delete pods, get pods/log)';
    case 404:
      return ' (does the namespace exist?)';
    default:
      return '';
  }
}

/** `https://user:password@host` → `https://host`, wherever it appears in a message. */
function stripCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
