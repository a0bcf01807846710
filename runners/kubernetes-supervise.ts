// Supervision of one attempt's Job, once it exists: watches its pod, follows the pod's log
// (resuming by byte count when the stream breaks off), reports what keeps the pod from running
// (while there is no pod, the Job's events and conditions say why: kubernetes-job-events.ts),
// and stops the Job on timeout, cancel or close. It decides how the attempt ended; what that
// means for the task's result is kubernetes-outcome.ts's.
import type { V1Pod } from '@kubernetes/client-node';
import type { LogStream } from './runner.js';
import { apiMessage, hint, openStream, statusOf, watchPods, withTimeout, type Cluster } from './kubernetes-api.js';
import { CONTAINER, KUBERNETES_LABELS } from './kubernetes-job.js';
import { readJobBlock, refusalError } from './kubernetes-job-events.js';
import type { PodLog } from './kubernetes-log.js';
import { durationText } from './duration-text.js';

/** How long a stopped pod may take beyond its grace period before the runner stops waiting for it. */
const STOP_MARGIN_MS = 15_000;
/** Waiting reasons that mean the image cannot be had: the attempt fails at once. */
const IMAGE_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
/** Waiting reasons too ordinary to report. */
const QUIET_WAITING = new Set(['ContainerCreating', 'PodInitializing']);
/** While the Job has no pod, its events and conditions are read this long after its creation, then every JOB_POLL_MS. */
const FIRST_JOB_POLL_MS = 1_000;
const JOB_POLL_MS = 2_000;
/** setTimeout fires at once beyond this (about 24.8 days); longer delays wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export type Stop = { kind: 'timed_out'; afterMs: number } | { kind: 'cancelled' } | { kind: 'closed' };

export type Ending =
  | { kind: 'exited'; exitCode: number; reason?: string; message?: string }
  | { kind: 'stopped'; why: Stop }
  | { kind: 'vanished' }
  /** The Job failed (a condition Failed) before it had a pod. */
  | { kind: 'job-failed'; reason: string; message: string }
  | { kind: 'failed'; error: string };

export interface SuperviseInput {
  cluster: Cluster;
  /** The Job's name; its pod carries it in the `eventops.dev/job` label. */
  name: string;
  /** The Job's uid, to select its events. */
  uid: string | undefined;
  /** `namespace "…" of <server>`, for messages. */
  where: string;
  image: string;
  timeoutMs: number | undefined;
  /** The pod's terminationGracePeriodSeconds. */
  graceSeconds: number;
  /** Aborted when the task is cancelled. */
  signal: AbortSignal;
  /** Aborted when the runner closes. */
  closing: AbortSignal;
  log: PodLog;
  emit(stream: LogStream, text: string): void;
}

export interface Supervised {
  ending: Ending;
  podName?: string;
  /** Why Kubernetes ended the pod (Evicted, DeadlineExceeded…), when it says. */
  podReason?: string;
  /** The results printed in the log (PodLog.end), when they came whole. */
  results?: string;
}

/** Watches the pod, follows its log, stops it when asked; resolves once the attempt is over, with every stream closed. */
export async function superviseJob(input: SuperviseInput): Promise<Supervised> {
  const { cluster, name, where, log, emit } = input;
  const { core, batch, namespace } = cluster;
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

  // What is known of the pod.
  let podName: string | undefined;
  let started = false;
  /** The container's end; `message` is its termination log as the kubelet reported it (not trimmed: it may hold outputs). */
  let terminated: { exitCode: number; reason?: string; message?: string } | undefined;
  let gone = false;
  let podFailure: string | undefined;
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
    void openStream(cluster, {
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
        log.write(data);
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
      } else if (whole || log.complete() || gone || stopping) {
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
      terminated = { exitCode: t.exitCode, ...(t.reason ? { reason: t.reason } : {}), ...(t.message ? { message: t.message } : {}) };
    }
    if ((state?.running || state?.terminated) && !started) {
      started = true;
      emit('system', `running in pod ${podName} (image ${input.image}) in ${where}${pod.spec?.nodeName ? `, on node ${pod.spec.nodeName}` : ''}`);
    }
    const waiting = state?.waiting;
    if (waiting?.reason && !started) {
      if (IMAGE_FAILURES.has(waiting.reason)) imageFailure ??= `could not pull the image "${input.image}" (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}); check its name and tag, and that the cluster may pull it (imagePullSecrets of the namespace's default service account)`;
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
    emit('system', `${label}: stopping the task (deleting the Job ${name}; its pod gets SIGTERM, then SIGKILL after ${durationText(input.graceSeconds * 1000)})`);
    void withTimeout(batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' })).catch((error: unknown) => {
      if (statusOf(error) !== 404) emit('system', `could not delete the Job ${name}: ${apiMessage(error)}`);
    });
    if (podName !== undefined) {
      void withTimeout(core.deleteNamespacedPod({ name: podName, namespace })).catch((error: unknown) => {
        if (statusOf(error) !== 404) emit('system', `could not delete the pod ${podName}: ${apiMessage(error)}`);
      });
    }
    later(input.graceSeconds * 1000 + STOP_MARGIN_MS, () => {
      if (finished) return;
      emit('system', `the pod ${podName} has not ended ${durationText(input.graceSeconds * 1000 + STOP_MARGIN_MS)} after it was deleted; Kubernetes will remove it`);
      done({ kind: 'stopped', why });
    });
    check();
  };

  // No pod yet: the Job's events and conditions may say why (a refused pod never shows in the pods watch).
  const pollJob = () => {
    if (finished || stopping || podName !== undefined) return;
    void readJobBlock(cluster, name, input.uid).then(({ block, errors }) => {
      if (finished || stopping || podName !== undefined) return;
      for (const { what, error } of errors) {
        const why = what === 'events' ? 'a pod the cluster refuses to create shows only at the timeout' : 'a Job that failed before it had a pod shows only at the timeout';
        reportOnce(`read ${what} ${statusOf(error)}`, `could not read the ${what === 'events' ? 'events' : 'status'} of the Job ${name}: ${apiMessage(error)}${hint(error)}; ${why}`);
      }
      switch (block?.kind) {
        case undefined:
          break;
        case 'waiting':
          reportOnce('waiting FailedCreate', `waiting: the cluster does not create the pod of the Job ${name} yet: ${block.message} (Kubernetes tries again; the task's timeout still applies)`);
          break;
        case 'refused':
          return done({ kind: 'failed', error: refusalError(name, where, block.message) });
        case 'failed':
          return done({ kind: 'job-failed', reason: block.reason, message: block.message });
        case 'gone':
          return done({ kind: 'vanished' });
        default:
          return assertNever(block);
      }
      later(JOB_POLL_MS, pollJob);
    });
  };
  later(FIRST_JOB_POLL_MS, pollJob);

  const onAbort = () => stop({ kind: 'cancelled' });
  const onClose = () => stop({ kind: 'closed' });
  input.signal.addEventListener('abort', onAbort, { once: true });
  input.closing.addEventListener('abort', onClose, { once: true });
  const timeoutMs = input.timeoutMs;
  if (timeoutMs !== undefined) later(timeoutMs, () => stop({ kind: 'timed_out', afterMs: timeoutMs }));
  void watchPods(cluster, `${KUBERNETES_LABELS.job}=${name}`, streams.signal, onPod).then((lost) => {
    if (lost === undefined || finished) return;
    done(stopping ? { kind: 'stopped', why: stopping } : { kind: 'failed', error: `lost contact with the Kubernetes API server (${lost}); the Job ${name} in ${where} is deleted if it can be` });
  });
  if (input.signal.aborted) onAbort();
  if (input.closing.aborted) onClose();

  const end = await ending;
  streams.abort();
  for (const timer of timers) clearTimeout(timer);
  input.signal.removeEventListener('abort', onAbort);
  input.closing.removeEventListener('abort', onClose);
  const results = log.end();
  if (logProblem !== undefined) emit('system', `could not read the log of pod ${podName}: ${logProblem}`);
  return { ending: end, ...(podName === undefined ? {} : { podName }), ...(podReason === undefined ? {} : { podReason }), ...(results === undefined ? {} : { results }) };
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
