// Why a Job has no pod yet, from what Kubernetes recorded: the job controller's `FailedCreate`
// events on the Job (the API server refused the pod: a PodSecurity level, an admission webhook, a
// quota, an invalid spec) and the Job's conditions. The controller keeps trying with backoff, so
// without this a refused pod would show only at the task's timeout. A refusal that lifts by itself
// (a quota used up, a new namespace's service account not made yet, a webhook that cannot be
// reached) is a wait; any other will not change by waiting, so the attempt fails at once.
import type { CoreV1Event } from '@kubernetes/client-node';
import { statusOf, withTimeout, type Cluster } from './kubernetes-api.js';

export type JobBlock =
  /** The pod is refused for now; the controller tries again. */
  | { kind: 'waiting'; message: string }
  /** The pod is refused for good: `message` is the API server's. */
  | { kind: 'refused'; message: string }
  /** The Job has the condition Failed. */
  | { kind: 'failed'; reason: string; message: string }
  /** The Job is gone (deleted by someone else). */
  | { kind: 'gone' };

export interface JobReading {
  block?: JobBlock;
  /** What could not be read (the events, the Job), with the error. */
  errors: { what: 'events' | 'job'; error: unknown }[];
}

/** Refusals that lift by themselves; the job controller's next try may succeed. */
const PASSING = [/exceeded quota/i, /error looking up service account/i, /failed calling webhook/i];

/** The field selector of the events about one Job (fields core/v1 events can be selected by). */
export function jobEventSelector(name: string, uid: string | undefined): string {
  return ['involvedObject.kind=Job', `involvedObject.name=${name}`, ...(uid === undefined ? [] : [`involvedObject.uid=${uid}`])].join(',');
}

/** Reads the Job's events and conditions (RBAC: list events, get jobs); never throws. */
export async function readJobBlock(cluster: Cluster, name: string, uid: string | undefined): Promise<JobReading> {
  const { namespace } = cluster;
  const [events, job] = await Promise.allSettled([withTimeout(cluster.core.listNamespacedEvent({ namespace, fieldSelector: jobEventSelector(name, uid) })), withTimeout(cluster.batch.readNamespacedJob({ name, namespace }))]);
  const errors: JobReading['errors'] = [];
  if (job.status === 'rejected') {
    if (statusOf(job.reason) === 404) return { block: { kind: 'gone' }, errors };
    errors.push({ what: 'job', error: job.reason });
  } else {
    const failed = job.value.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) return { block: { kind: 'failed', reason: failed.reason ?? 'Failed', message: failed.message ?? '' }, errors };
  }
  if (events.status === 'rejected') {
    errors.push({ what: 'events', error: events.reason });
    return { errors };
  }
  const refusals = events.value.items.filter((e) => e.reason === 'FailedCreate' && (uid === undefined || e.involvedObject.uid === undefined || e.involvedObject.uid === uid)).sort((a, b) => timeOf(b) - timeOf(a));
  const messages = refusals.map((e) => (e.message ?? '').replace(/^Error creating: /, ''));
  const lasting = messages.find((m) => !PASSING.some((p) => p.test(m)));
  if (lasting !== undefined) return { block: { kind: 'refused', message: lasting }, errors };
  if (messages[0] !== undefined) return { block: { kind: 'waiting', message: messages[0] }, errors };
  return { errors };
}

/** The error of an attempt whose pod the cluster refused: the API server's message, and what to do about it. */
export function refusalError(name: string, where: string, message: string): string {
  return `the cluster refused to create the pod of the Job ${name} in ${where}: ${message}; ${refusalFix(message)}`;
}

function refusalFix(message: string): string {
  if (/violates PodSecurity/i.test(message)) return "the namespace's Pod Security level does not admit the task's pod: run kubernetes tasks in a namespace whose pod-security.kubernetes.io/enforce label is baseline or privileged, or ask the cluster's administrators";
  if (/admission webhook .* denied the request/i.test(message)) return "an admission webhook of the cluster denied the pod: change the task (its image, its resources) to meet the webhook's policy, or ask the cluster's administrators";
  if (/failed quota|must specify/i.test(message)) return "the namespace's ResourceQuota needs limits on every pod: set resources (cpu and memory) on the task";
  if (/is invalid/i.test(message)) return "the pod's spec is invalid: check the task's image and resources";
  return 'fix what the message names (a policy of the cluster or of its namespace), then run the task again';
}

/** When the event last happened: series and aggregated events keep the latest time in different fields. */
function timeOf(event: CoreV1Event): number {
  const at = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  const ms = at === undefined ? NaN : new Date(at).getTime();
  return Number.isNaN(ms) ? 0 : ms;
}
