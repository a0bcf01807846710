// A fake Kubernetes API server for tests (no kube-apiserver can run here): a real HTTP server on
// 127.0.0.1 that speaks enough of the published API for @kubernetes/client-node and the
// kubernetes runner — discovery, namespaced Jobs, Pods (with logs) and Secrets: create, get, list
// by label selector, patch, delete with propagation, and watch streams of JSON events. Replies are
// shaped like the real ones (kind, apiVersion, metadata with uid, resourceVersion and
// creationTimestamp; `Status` objects for errors). It records every request it was sent.
//
// Pods run for real: a Job gets a Pod whose container command is run on this host, with the
// Secret volumes written to a temp folder (the command's paths under a mount are mapped there),
// TMPDIR and the working folder temp folders of the pod's own. Where the machine allows it
// (root), the container gets a PID namespace of its own (`unshare --pid --fork`), so, as in a real
// container, its first process is PID 1: it ignores a SIGTERM it has no trap for, and every process
// of the container dies with it. Deleting a pod sends SIGTERM to that first process, then SIGKILL
// after the grace period. Its stdout and stderr, merged as the kubelet merges them, are the pod's
// log. A container without a command runs its image's entrypoint and cmd, from the fake's image
// registry (`images`), with the `envFrom` Secrets' keys in its environment; its termination log
// (`/dev/termination-log`, mapped to a temp file) becomes its terminated state's `message`, cut to
// its last 4096 bytes as the kubelet cuts it. An image the fake cannot "pull" (default: names starting with `missing/`) leaves the pod
// Pending, waiting with reason ErrImagePull, then ImagePullBackOff.
//
// Pod admission (`admitPod`: a PodSecurity level, a ResourceQuota, a webhook) can refuse a Job's
// pod: then, as the real job controller does, the fake records a Warning event `FailedCreate`
// (`Error creating: <the API server's message>`) on the Job and tries again with backoff. Events
// are listed with field selectors, like core/v1 events (`involvedObject.kind`, `.name`, `.uid`…).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordedRequest {
  method: string;
  /** The URL's path, e.g. `/apis/batch/v1/namespaces/default/jobs`. */
  path: string;
  query: Record<string, string>;
  /** The parsed JSON body (or its text when it was not JSON); undefined without one. */
  body: unknown;
  contentType?: string;
}

export interface FakeKubernetesOptions {
  /** The bearer token clients must send; default a random one. */
  token?: string;
  /** Namespaces that exist; default `['default']`. */
  namespaces?: string[];
  /** Images the fake cannot pull; default: names starting with `missing/`. */
  unpullable?: (image: string) => boolean;
  /** End each followed log stream after this long (cleanly, as a stream that timed out does); default never. */
  logStreamMs?: number;
  /**
   * Admission of each pod the fake job controller is about to create: a message (the API server's
   * whole error, e.g. `pods "x" is forbidden: …`) refuses it. See `podSecurityRestricted` and
   * `exceededQuota`. Default: every pod is admitted.
   */
  admitPod?: PodAdmission;
  /** The fake's image registry: what a container without `command` runs (ENTRYPOINT, then CMD), as command lines of this host. */
  images?: Record<string, FakeImage>;
  /** The job controller's first wait before it tries again to create a refused pod (then doubled, at most 2 s); default 200 ms (the real one: 10 s). */
  podRetryMs?: number;
}

/** An image's config, as far as running it goes. */
export interface FakeImage {
  entrypoint?: string[];
  cmd?: string[];
}

/** The pod as admission sees it: its generated name, namespace, owning Job and spec. */
export interface PodUnderAdmission {
  name: string;
  namespace: string;
  job: string;
  spec: PodSpec;
}

/** Refuses a pod with the API server's message, or admits it (undefined). */
export type PodAdmission = (pod: PodUnderAdmission) => string | undefined;

export type Resource = 'jobs' | 'pods' | 'secrets' | 'events';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  [field: string]: unknown;
}

export interface Metadata {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  finalizers?: string[];
}

export interface KubeconfigContext {
  name: string;
  namespace?: string;
  /** A token other than the fake's (to make a context that the fake refuses). */
  token?: string;
}

export interface FakeKubernetes {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  token: string;
  /** Every request answered so far, in order. */
  requests: RecordedRequest[];
  /** A kubeconfig YAML for this server (a token user, `insecure-skip-tls-verify` since it speaks plain HTTP). Default: one context `fake`, namespace unset. */
  kubeconfig(options?: { contexts?: KubeconfigContext[]; currentContext?: string }): string;
  /** The objects stored now (a copy). */
  objects(resource: Resource, namespace?: string): KubeObject[];
  /** How many containers still have processes running. */
  runningContainers(): number;
  addNamespace(name: string): void;
  /** Sets a condition on a Job's status (as the job controller does, e.g. `Failed` with reason DeadlineExceeded). */
  setJobCondition(namespace: string, name: string, condition: { type: string; status?: string; reason?: string; message?: string }): void;
  /** Whether containers get a PID namespace of their own (see the header). */
  readonly pidNamespaces: boolean;
  /** Ends every stream, kills every container and stops the server. Idempotent. */
  close(): Promise<void>;
}

const GROUPS: Record<Resource, { prefix: string; apiVersion: string; kind: string; listKind: string }> = {
  pods: { prefix: '/api/v1', apiVersion: 'v1', kind: 'Pod', listKind: 'PodList' },
  secrets: { prefix: '/api/v1', apiVersion: 'v1', kind: 'Secret', listKind: 'SecretList' },
  jobs: { prefix: '/apis/batch/v1', apiVersion: 'batch/v1', kind: 'Job', listKind: 'JobList' },
  events: { prefix: '/api/v1', apiVersion: 'v1', kind: 'Event', listKind: 'EventList' },
};

/** The field selectors the real API server accepts on core/v1 events; any other field is refused. */
const EVENT_FIELDS: Record<string, (event: KubeObject) => string> = {
  'metadata.name': (e) => e.metadata.name,
  'metadata.namespace': (e) => e.metadata.namespace,
  'involvedObject.kind': (e) => involved(e).kind ?? '',
  'involvedObject.namespace': (e) => involved(e).namespace ?? '',
  'involvedObject.name': (e) => involved(e).name ?? '',
  'involvedObject.uid': (e) => involved(e).uid ?? '',
  'involvedObject.apiVersion': (e) => involved(e).apiVersion ?? '',
  'involvedObject.resourceVersion': (e) => involved(e).resourceVersion ?? '',
  'involvedObject.fieldPath': (e) => involved(e).fieldPath ?? '',
  reason: (e) => String(e.reason ?? ''),
  reportingComponent: (e) => String(e.reportingComponent ?? ''),
  source: (e) => String((e.source as { component?: string } | undefined)?.component ?? ''),
  type: (e) => String(e.type ?? ''),
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** How many events a watch can resume from; older resource versions get `410 Expired`. */
const HISTORY = 10_000;

interface WatchEvent {
  rv: number;
  resource: Resource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

interface Watcher {
  resource: Resource;
  namespace: string;
  selector: Selector;
  name?: string;
  res: ServerResponse;
}

interface Container {
  pod: string;
  namespace: string;
  child?: ChildProcess;
  dir?: string;
  log: Buffer[];
  logBytes: number;
  /** No more output will come (the process ended, or never started). */
  logClosed: boolean;
  followers: Set<Follower>;
  started: boolean;
  exited: boolean;
  killedBy?: 'SIGKILL';
  graceTimer?: NodeJS.Timeout;
  pullTimer?: NodeJS.Timeout;
  /** The host file behind the container's terminationMessagePath, and its policy. */
  terminationLog?: { path: string; policy: string };
  ended: Promise<void>;
}

interface Follower {
  write(chunk: Buffer): void;
  end(): void;
}

type Selector = (labels: Record<string, string> | undefined) => boolean;

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Starts the fake on a random loopback port. */
export async function startFakeKubernetes(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
  const token = options.token ?? randomBytes(16).toString('hex');
  const unpullable = options.unpullable ?? ((image: string) => image.startsWith('missing/'));
  const namespaces = new Set(options.namespaces ?? ['default']);
  const pidNamespaces = canUnshare();
  const requests: RecordedRequest[] = [];
  const store = new Map<string, KubeObject>();
  const events: WatchEvent[] = [];
  const watchers = new Set<Watcher>();
  const containers = new Map<string, Container>();
  const sockets = new Set<Socket>();
  const retries = new Set<NodeJS.Timeout>();
  let rv = 1000;
  let closing = false;

  const key = (resource: Resource, namespace: string, name: string) => `${resource}/${namespace}/${name}`;
  const clone = <T>(value: T): T => structuredClone(value);
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  const record = (resource: Resource, type: WatchEvent['type'], object: KubeObject) => {
    const event: WatchEvent = { rv: Number(object.metadata.resourceVersion), resource, type, object: clone(object) };
    events.push(event);
    if (events.length > HISTORY) events.splice(0, events.length - HISTORY);
    for (const watcher of watchers) if (matches(watcher, event)) send(watcher.res, event);
  };
  const save = (resource: Resource, object: KubeObject, type: 'ADDED' | 'MODIFIED') => {
    object.metadata.resourceVersion = String(++rv);
    store.set(key(resource, object.metadata.namespace, object.metadata.name), object);
    record(resource, type, object);
  };
  const remove = (resource: Resource, object: KubeObject) => {
    if (!store.delete(key(resource, object.metadata.namespace, object.metadata.name))) return;
    object.metadata.resourceVersion = String(++rv);
    record(resource, 'DELETED', object);
    if (resource === 'pods') collectGarbage();
  };
  const get = (resource: Resource, namespace: string, name: string) => store.get(key(resource, namespace, name));
  const list = (resource: Resource, namespace?: string) => [...store.entries()].filter(([k]) => k.startsWith(namespace === undefined ? `${resource}/` : `${resource}/${namespace}/`)).map(([, object]) => object);

  const matches = (watcher: Watcher, event: WatchEvent) =>
    watcher.resource === event.resource && watcher.namespace === event.object.metadata.namespace && (watcher.name === undefined || watcher.name === event.object.metadata.name) && watcher.selector(event.object.metadata.labels);
  const send = (res: ServerResponse, event: { type: string; object: unknown }) => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
  };

  const newMetadata = (namespace: string, given: Partial<Metadata>, name: string): Metadata => ({
    ...given,
    name,
    namespace,
    uid: randomUUID(),
    resourceVersion: '0',
    creationTimestamp: now(),
  });

  // ---- Jobs and their pods ----

  const createJob = (namespace: string, body: KubeObject): KubeObject => {
    const name = objectName(body, 'Job', 63);
    const spec = (body.spec ?? {}) as JobSpec;
    const template = spec.template ?? {};
    const podSpec = template.spec;
    const problems: string[] = [];
    if (!podSpec || !Array.isArray(podSpec.containers) || podSpec.containers.length === 0) problems.push('spec.template.spec.containers: Required value');
    if (podSpec && !['Never', 'OnFailure'].includes(podSpec.restartPolicy ?? '')) problems.push(`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`);
    for (const container of podSpec?.containers ?? []) {
      if (!container.image) problems.push('spec.template.spec.containers[0].image: Required value');
      if (!container.name || !DNS_LABEL.test(container.name)) problems.push(`spec.template.spec.containers[0].name: Invalid value: "${container.name}"`);
    }
    problems.push(...labelProblems('metadata.labels', body.metadata?.labels), ...labelProblems('spec.template.metadata.labels', template.metadata?.labels));
    if (problems.length > 0) throw invalid('Job', name, problems);
    const metadata = newMetadata(namespace, body.metadata ?? {}, name);
    const controllerLabels = { 'batch.kubernetes.io/controller-uid': metadata.uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': metadata.uid, 'job-name': name };
    const job: KubeObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata,
      spec: {
        parallelism: 1,
        completions: 1,
        backoffLimit: 6,
        completionMode: 'NonIndexed',
        suspend: false,
        ...spec,
        selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': metadata.uid } },
        template: { ...template, metadata: { ...template.metadata, labels: { ...template.metadata?.labels, ...controllerLabels } } },
      },
      status: {},
    };
    save('jobs', job, 'ADDED');
    setImmediate(() => createPodFor(job, 0));
    return job;
  };

  /** As client-go's event recorder does: one Event per distinct message, counted when it repeats. */
  const recordEvent = (object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string) => {
    const same = list('events', object.metadata.namespace).find((e) => involved(e).uid === object.metadata.uid && e.reason === reason && e.message === message);
    const t = now();
    if (same) {
      same.count = Number(same.count ?? 1) + 1;
      same.lastTimestamp = t;
      return save('events', same, 'MODIFIED');
    }
    const event: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: newMetadata(object.metadata.namespace, {}, `${object.metadata.name}.${(BigInt(Date.now()) * 1_000_000n + BigInt(randomBytes(2).readUInt16BE())).toString(16)}`),
      involvedObject: { kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid, apiVersion: object.apiVersion, resourceVersion: object.metadata.resourceVersion },
      reason,
      message,
      source: { component },
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: '',
    };
    save('events', event, 'ADDED');
  };

  const createPodFor = (job: KubeObject, failures: number) => {
    if (closing || !store.has(key('jobs', job.metadata.namespace, job.metadata.name))) return;
    const spec = job.spec as JobSpec;
    const template = spec.template!;
    const podSpec = template.spec!;
    const name = `${job.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const container = podSpec.containers[0]!;
    const refusal = options.admitPod?.({ name, namespace: job.metadata.namespace, job: job.metadata.name, spec: podSpec });
    if (refusal !== undefined) {
      // The job controller records the failure on the Job and tries again later, for as long as the Job lives.
      recordEvent(job, 'Warning', 'FailedCreate', `Error creating: ${refusal}`, 'job-controller');
      const timer = setTimeout(() => {
        retries.delete(timer);
        createPodFor(job, failures + 1);
      }, Math.min((options.podRetryMs ?? 200) * 2 ** failures, 2_000));
      retries.add(timer);
      return;
    }
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...newMetadata(job.metadata.namespace, { labels: template.metadata?.labels ?? {}, ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}) }, name),
        generateName: `${job.metadata.name}-`,
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }],
        finalizers: ['batch.kubernetes.io/job-tracking'],
      },
      spec: { ...podSpec, nodeName: 'fake-node', schedulerName: 'default-scheduler', serviceAccountName: podSpec.serviceAccountName ?? 'default', terminationGracePeriodSeconds: podSpec.terminationGracePeriodSeconds ?? 30 },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() }],
        hostIP: '127.0.0.1',
        startTime: now(),
        qosClass: 'BestEffort',
        containerStatuses: [{ name: container.name, image: container.image, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} }],
      },
    };
    save('pods', pod, 'ADDED');
    recordEvent(job, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`, 'job-controller');
    updateJobStatus(job.metadata.namespace, job.metadata.name, (status) => ({ ...status, active: 1, startTime: status.startTime ?? now(), ready: 0, terminating: 0, uncountedTerminatedPods: {} }));
    const entry: Container = { pod: name, namespace: job.metadata.namespace, log: [], logBytes: 0, logClosed: false, followers: new Set(), started: false, exited: false, ended: Promise.resolve() };
    containers.set(`${job.metadata.namespace}/${name}`, entry);
    if (unpullable(String(container.image))) {
      let backOff = false;
      const waiting = () => {
        const current = get('pods', pod.metadata.namespace, name);
        if (!current || current.metadata.deletionTimestamp) return;
        setContainerState(current, backOff ? { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${container.image}"` } } : { waiting: { reason: 'ErrImagePull', message: `rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/${container.image}": failed to resolve reference "docker.io/${container.image}": docker.io/${container.image}: not found` } });
        backOff = !backOff;
        entry.pullTimer = setTimeout(waiting, 300);
      };
      entry.pullTimer = setTimeout(waiting, 20);
      entry.logClosed = true;
      return;
    }
    void startContainer(entry, pod);
  };

  const setContainerState = (pod: KubeObject, state: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const status = pod.status as PodStatus;
    const [first, ...rest] = status.containerStatuses ?? [];
    status.containerStatuses = [{ ...first!, ...extra, state }, ...rest];
    save('pods', pod, 'MODIFIED');
  };

  const startContainer = async (entry: Container, pod: KubeObject) => {
    const podSpec = pod.spec as PodSpec;
    const container = podSpec.containers[0]!;
    // As the kubelet does, wait for the Secret volumes' Secrets to exist.
    for (;;) {
      const current = get('pods', entry.namespace, entry.pod);
      if (closing || !current || current.metadata.deletionTimestamp) {
        entry.logClosed = true;
        if (current) remove('pods', current);
        return;
      }
      const missing = (podSpec.volumes ?? []).find((v) => v.secret && !get('secrets', entry.namespace, v.secret.secretName)) ?? (container.envFrom ?? []).find((e) => e.secretRef && !e.secretRef.optional && !get('secrets', entry.namespace, e.secretRef.name));
      if (!missing) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Kubernetes' rules: `command` replaces the image's ENTRYPOINT, `args` its CMD; a `command`
    // without `args` drops the CMD.
    const image = options.images?.[String(container.image)];
    const command = container.command ?? image?.entrypoint ?? [];
    const commandArgs = container.args ?? (container.command === undefined ? image?.cmd ?? [] : []);
    if (command.length + commandArgs.length === 0) {
      entry.logClosed = true;
      const current = get('pods', entry.namespace, entry.pod);
      if (current) setContainerState(current, { waiting: { reason: 'CreateContainerError', message: 'failed to generate container spec: no command specified' } });
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'fake-kube-pod-'));
    entry.dir = dir;
    const mounts: { mountPath: string; hostPath: string }[] = [];
    for (const volume of podSpec.volumes ?? []) {
      const hostPath = join(dir, 'volumes', volume.name);
      await mkdir(hostPath, { recursive: true });
      if (volume.secret) {
        const secret = get('secrets', entry.namespace, volume.secret.secretName)!;
        for (const [file, value] of Object.entries((secret.data ?? {}) as Record<string, string>)) {
          await writeFile(join(hostPath, file), Buffer.from(value, 'base64'));
          await chmod(join(hostPath, file), volume.secret.defaultMode ?? 0o644);
        }
      }
      for (const mount of container.volumeMounts ?? []) if (mount.name === volume.name) mounts.push({ mountPath: mount.mountPath.replace(/\/+$/, ''), hostPath });
    }
    // The kubelet mounts a writable file at the termination message path; the container writes there.
    const terminationLog = join(dir, 'termination-log');
    await writeFile(terminationLog, '', { mode: 0o666 });
    entry.terminationLog = { path: terminationLog, policy: container.terminationMessagePolicy ?? 'File' };
    mounts.push({ mountPath: container.terminationMessagePath ?? '/dev/termination-log', hostPath: terminationLog });
    // Paths in the container are paths of this host: those under a mount (in arguments and in variables) are mapped.
    const mapPath = (arg: string) => {
      for (const m of mounts) if (arg === m.mountPath || arg.startsWith(`${m.mountPath}/`)) return m.hostPath + arg.slice(m.mountPath.length);
      return arg;
    };
    const argv = [...command, ...commandArgs].map(mapPath);
    await mkdir(join(dir, 'tmp'));
    await mkdir(join(dir, 'root'));
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: join(dir, 'root'), TMPDIR: join(dir, 'tmp'), HOSTNAME: entry.pod };
    // envFrom first, then env: `env` wins, as in Kubernetes.
    for (const source of container.envFrom ?? []) {
      const secret = source.secretRef ? get('secrets', entry.namespace, source.secretRef.name) : undefined;
      for (const [name, value] of Object.entries((secret?.data ?? {}) as Record<string, string>)) env[`${source.prefix ?? ''}${name}`] = mapPath(Buffer.from(value, 'base64').toString('utf8'));
    }
    for (const variable of container.env ?? []) if (variable.value !== undefined) env[variable.name] = mapPath(variable.value);
    const current = get('pods', entry.namespace, entry.pod);
    if (closing || !current || current.metadata.deletionTimestamp) {
      entry.logClosed = true;
      if (current) remove('pods', current);
      await rm(dir, { recursive: true, force: true });
      return;
    }
    const [program, ...args] = argv;
    // With a PID namespace, the container's output goes through fds 3 and 4, so that what unshare
    // itself may print (on stderr) is not taken for the container's.
    const child = pidNamespaces
      ? spawn('unshare', ['--pid', '--fork', '--kill-child', 'sh', '-c', 'exec "$@" >&3 2>&4 3>&- 4>&-', 'sh', program!, ...args], { cwd: join(dir, 'root'), env, stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] })
      : spawn(program!, args, { cwd: join(dir, 'root'), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    entry.child = child;
    entry.started = true;
    const append = (chunk: Buffer) => {
      entry.log.push(chunk);
      entry.logBytes += chunk.length;
      for (const res of entry.followers) res.write(chunk);
    };
    const [out, err] = pidNamespaces ? [child.stdio[3], child.stdio[4]] : [child.stdout, child.stderr];
    (out as NodeJS.ReadableStream).on('data', append);
    (err as NodeJS.ReadableStream).on('data', append);
    entry.ended = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        entry.exited = true;
        clearTimeout(entry.graceTimer);
        entry.logClosed = true;
        for (const res of entry.followers) res.end();
        entry.followers.clear();
        const exitCode = entry.killedBy === 'SIGKILL' ? 137 : code ?? 128 + signalNumber(signal);
        finishContainer(entry, exitCode);
        void rm(dir, { recursive: true, force: true }).then(() => resolve());
      });
    });
    child.once('error', () => undefined);
    const startedAt = now();
    const pod2 = get('pods', entry.namespace, entry.pod);
    if (pod2) {
      const status = pod2.status as PodStatus;
      status.phase = 'Running';
      status.podIP = '10.0.0.2';
      status.conditions = [...(status.conditions ?? []).filter((c) => c.type === 'PodScheduled'), { type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }];
      setContainerState(pod2, { running: { startedAt } }, { ready: true, started: true, containerID: `containerd://${randomBytes(32).toString('hex')}`, imageID: `docker.io/${container.image}@sha256:${randomBytes(32).toString('hex')}` });
    }
  };

  const finishContainer = (entry: Container, exitCode: number) => {
    const pod = get('pods', entry.namespace, entry.pod);
    if (!pod) return;
    const status = pod.status as PodStatus;
    const running = status.containerStatuses?.[0]?.state?.running as { startedAt?: string } | undefined;
    status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    status.conditions = (status.conditions ?? []).map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'PodCompleted' } : c));
    const message = terminationMessage(entry, exitCode);
    setContainerState(pod, { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', ...(message ? { message } : {}), startedAt: running?.startedAt ?? now(), finishedAt: now(), containerID: status.containerStatuses?.[0]?.containerID } }, { ready: false, started: false });
    const owner = pod.metadata.ownerReferences?.[0];
    if (owner && !pod.metadata.deletionTimestamp) {
      updateJobStatus(pod.metadata.namespace, owner.name, (s) => {
        const t = now();
        return exitCode === 0
          ? { ...s, active: 0, ready: 0, succeeded: 1, completionTime: t, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: t, lastTransitionTime: t }, { type: 'Complete', status: 'True', lastProbeTime: t, lastTransitionTime: t }] }
          : { ...s, active: 0, ready: 0, failed: 1, conditions: [{ type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t }, { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t }] };
      });
    }
    // The job controller removes its tracking finalizer once it has counted the pod.
    pod.metadata.finalizers = (pod.metadata.finalizers ?? []).filter((f) => f !== 'batch.kubernetes.io/job-tracking');
    if (pod.metadata.deletionTimestamp) remove('pods', pod);
    else save('pods', pod, 'MODIFIED');
  };

  /** As the kubelet reads it: the termination log's last 4096 bytes; with FallbackToLogsOnError, an empty one after a failure gives the log's last 80 lines (at most 2048 bytes). */
  const terminationMessage = (entry: Container, exitCode: number): string => {
    let message = '';
    if (entry.terminationLog) {
      try {
        const bytes = readFileSync(entry.terminationLog.path);
        message = bytes.subarray(Math.max(0, bytes.length - 4096)).toString('utf8');
      } catch {
        // The container removed it: no message.
      }
    }
    if (message === '' && exitCode !== 0 && entry.terminationLog?.policy === 'FallbackToLogsOnError') {
      const lines = Buffer.concat(entry.log).toString('utf8').split('\n');
      const tail = Buffer.from(lines.slice(-81).join('\n'));
      message = tail.subarray(Math.max(0, tail.length - 2048)).toString('utf8');
    }
    return message;
  };

  const updateJobStatus = (namespace: string, name: string, change: (status: Record<string, unknown>) => Record<string, unknown>) => {
    const job = get('jobs', namespace, name);
    if (!job) return;
    job.status = change((job.status ?? {}) as Record<string, unknown>);
    save('jobs', job, 'MODIFIED');
  };

  /** Graceful pod deletion: SIGTERM to the container's first process, SIGKILL after the grace period. */
  const deletePod = (pod: KubeObject, graceSeconds?: number) => {
    const entry = containers.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    if (entry?.pullTimer) clearTimeout(entry.pullTimer);
    const running = entry?.child !== undefined && !entry.exited;
    if (!running) {
      if (entry) {
        entry.logClosed = true;
        for (const res of entry.followers) res.end();
        entry.followers.clear();
      }
      remove('pods', pod);
      return pod;
    }
    if (pod.metadata.deletionTimestamp) return pod;
    const grace = graceSeconds ?? (pod.spec as PodSpec).terminationGracePeriodSeconds ?? 30;
    pod.metadata.deletionTimestamp = now();
    pod.metadata.deletionGracePeriodSeconds = grace;
    save('pods', pod, 'MODIFIED');
    signalContainer(entry, 'SIGTERM');
    entry.graceTimer = setTimeout(() => signalContainer(entry, 'SIGKILL'), grace * 1000);
    return pod;
  };

  const signalContainer = (entry: Container, signal: 'SIGTERM' | 'SIGKILL') => {
    const child = entry.child;
    if (!child || entry.exited || child.pid === undefined) return;
    if (signal === 'SIGKILL') entry.killedBy = 'SIGKILL';
    try {
      if (pidNamespaces) {
        // The container's first process is unshare's child; SIGKILL to it ends the whole namespace.
        const init = firstChild(child.pid);
        if (init !== undefined) process.kill(init, signal);
        else if (signal === 'SIGKILL') child.kill('SIGKILL');
        else setTimeout(() => signalContainer(entry, signal), 20);
      } else if (signal === 'SIGKILL') {
        // Without a PID namespace, the container's processes are its process tree (a task in a
        // session of its own included, while its parent lives) and its process group.
        for (const pid of descendants(child.pid)) process.kill(pid, 'SIGKILL');
        process.kill(-child.pid, 'SIGKILL');
      } else {
        process.kill(child.pid, 'SIGTERM');
      }
    } catch {
      // Already gone.
    }
  };

  /** The garbage collector: dependents whose owner is gone are deleted (pods gracefully). */
  const collectGarbage = () => {
    const uids = new Set([...store.values()].map((o) => o.metadata.uid));
    for (const resource of ['pods', 'secrets'] as const) {
      for (const object of list(resource)) {
        const owners = object.metadata.ownerReferences ?? [];
        if (owners.length > 0 && owners.every((o) => !uids.has(o.uid))) {
          if (resource === 'pods') deletePod(object);
          else remove(resource, object);
        }
      }
    }
    // Foreground deletion ends once no dependent remains.
    for (const job of list('jobs')) {
      if (!job.metadata.finalizers?.includes('foregroundDeletion')) continue;
      const dependents = list('pods', job.metadata.namespace).filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === job.metadata.uid));
      if (dependents.length === 0) remove('jobs', job);
    }
  };

  const deleteJob = (job: KubeObject, policy: string | undefined): KubeObject | Record<string, unknown> => {
    // batch/v1 Jobs deleted through the API orphan their pods unless told otherwise.
    const propagation = policy ?? 'Orphan';
    if (propagation === 'Orphan') {
      for (const resource of ['pods', 'secrets'] as const) {
        for (const object of list(resource, job.metadata.namespace)) {
          if (!object.metadata.ownerReferences?.some((o) => o.uid === job.metadata.uid)) continue;
          object.metadata.ownerReferences = object.metadata.ownerReferences.filter((o) => o.uid !== job.metadata.uid);
          save(resource, object, 'MODIFIED');
        }
      }
      remove('jobs', job);
      return success(job, 'jobs', 'batch');
    }
    if (propagation === 'Foreground') {
      job.metadata.deletionTimestamp = now();
      job.metadata.deletionGracePeriodSeconds = 0;
      job.metadata.finalizers = [...(job.metadata.finalizers ?? []), 'foregroundDeletion'];
      save('jobs', job, 'MODIFIED');
      for (const pod of list('pods', job.metadata.namespace)) if (pod.metadata.ownerReferences?.some((o) => o.uid === job.metadata.uid)) deletePod(pod);
      for (const secret of list('secrets', job.metadata.namespace)) if (secret.metadata.ownerReferences?.some((o) => o.uid === job.metadata.uid)) remove('secrets', secret);
      collectGarbage();
      return clone(job);
    }
    remove('jobs', job);
    collectGarbage();
    return success(job, 'jobs', 'batch');
  };

  // ---- HTTP ----

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      const e = error instanceof HttpError ? error : new HttpError(500, 'InternalError', error instanceof Error ? error.message : String(error));
      if (!res.headersSent) reply(res, e.code, statusObject(e));
      else res.end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const text = await readBody(req);
    const contentType = req.headers['content-type'];
    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const method = req.method ?? 'GET';
    requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), body, ...(contentType ? { contentType } : {}) });
    if (req.headers.authorization !== `Bearer ${token}`) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
    const path = url.pathname.replace(/\/+$/, '');
    const query = url.searchParams;

    const discovery = discoveryReply(path);
    if (discovery) return reply(res, 200, discovery);

    const route = /^(\/api\/v1|\/apis\/batch\/v1)\/namespaces\/([^/]+)\/(pods|secrets|jobs|events)(?:\/([^/]+))?(?:\/(log))?$/.exec(path);
    if (!route) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const [, prefix, namespace, resourceName, name, sub] = route as unknown as [string, string, string, Resource, string | undefined, string | undefined];
    if (GROUPS[resourceName].prefix !== prefix) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const resource = resourceName;
    const kindName = GROUPS[resource].kind;
    const group = resource === 'jobs' ? 'batch' : '';
    const notFound = (what: string) => new HttpError(404, 'NotFound', `${resource}${group ? `.${group}` : ''} "${what}" not found`, { name: what, ...(group ? { group } : {}), kind: resource });

    if (sub === 'log') {
      if (method !== 'GET' || resource !== 'pods' || name === undefined) throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const pod = get('pods', namespace, name);
      if (!pod) throw notFound(name);
      return followLog(pod, query, res);
    }
    if (name === undefined) {
      if (method === 'GET' && resource === 'events') {
        if (query.get('watch') === 'true' || query.get('watch') === '1') throw new HttpError(405, 'MethodNotAllowed', 'the fake does not watch events');
        const selector = parseSelector(query.get('labelSelector') ?? '');
        const fields = parseFieldSelector(query.get('fieldSelector') ?? '', EVENT_FIELDS);
        const items = list('events', namespace).filter((e) => selector(e.metadata.labels) && fields(e));
        return reply(res, 200, { kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: items.map(clone) });
      }
      if (method === 'GET') {
        const selector = parseSelector(query.get('labelSelector') ?? '');
        const fieldName = /^metadata\.name=(.+)$/.exec(query.get('fieldSelector') ?? '')?.[1];
        if (query.get('watch') === 'true' || query.get('watch') === '1') return watch({ resource, namespace, selector, ...(fieldName === undefined ? {} : { name: fieldName }), res }, query);
        const items = list(resource, namespace).filter((o) => selector(o.metadata.labels) && (fieldName === undefined || o.metadata.name === fieldName));
        return reply(res, 200, { kind: GROUPS[resource].listKind, apiVersion: GROUPS[resource].apiVersion, metadata: { resourceVersion: String(rv) }, items: items.map(clone) });
      }
      if (method === 'POST') {
        if (!namespaces.has(namespace)) throw new HttpError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
        if (typeof body !== 'object' || body === null) throw new HttpError(400, 'BadRequest', 'the body of the request was in an unknown format');
        const object = body as KubeObject;
        const wanted = object.metadata?.name;
        if (wanted && get(resource, namespace, wanted)) throw new HttpError(409, 'AlreadyExists', `${resource}${group ? `.${group}` : ''} "${wanted}" already exists`, { name: wanted, ...(group ? { group } : {}), kind: resource });
        if (resource === 'jobs') return reply(res, 201, clone(createJob(namespace, object)));
        if (resource === 'secrets') return reply(res, 201, clone(createSecret(namespace, object)));
        throw new HttpError(405, 'MethodNotAllowed', `${resource} are made by the fake's controllers only`);
      }
      throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    const object = get(resource, namespace, name);
    if (!object) throw notFound(name);
    switch (method) {
      case 'GET':
        return reply(res, 200, clone(object));
      case 'DELETE': {
        const options = (typeof body === 'object' && body !== null ? body : {}) as { propagationPolicy?: string; gracePeriodSeconds?: number };
        const policy = query.get('propagationPolicy') ?? options.propagationPolicy;
        const graceText = query.get('gracePeriodSeconds');
        const grace = graceText !== null ? Number(graceText) : options.gracePeriodSeconds;
        if (resource === 'jobs') return reply(res, 200, deleteJob(object, policy ?? undefined));
        if (resource === 'pods') return reply(res, 200, clone(deletePod(object, grace)));
        remove(resource, object);
        return reply(res, 200, success(object, resource, group));
      }
      case 'PATCH': {
        const patched = applyPatch(object, body, contentType ?? '');
        patched.metadata = { ...patched.metadata, name: object.metadata.name, namespace, uid: object.metadata.uid, creationTimestamp: object.metadata.creationTimestamp };
        save(resource, patched, 'MODIFIED');
        if (resource !== 'pods') collectGarbage();
        return reply(res, 200, clone(patched));
      }
      default:
        throw new HttpError(405, 'MethodNotAllowed', `${kindName} does not allow ${method} here`);
    }
  };

  const createSecret = (namespace: string, body: KubeObject): KubeObject => {
    const name = objectName(body, 'Secret', 253);
    const data: Record<string, string> = { ...((body.data ?? {}) as Record<string, string>) };
    for (const [k, v] of Object.entries((body.stringData ?? {}) as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
    const problems = Object.entries(data).flatMap(([k, v]) => [...(/^[-._a-zA-Z0-9]+$/.test(k) ? [] : [`data[${k}]: Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`]), ...(/^[A-Za-z0-9+/]*={0,2}$/.test(v) ? [] : [`data[${k}]: Invalid value: illegal base64 data`])]);
    problems.push(...labelProblems('metadata.labels', body.metadata?.labels));
    if (problems.length > 0) throw invalid('Secret', name, problems);
    const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: newMetadata(namespace, body.metadata ?? {}, name), type: body.type ?? 'Opaque', data, ...(body.immutable === undefined ? {} : { immutable: body.immutable }) };
    save('secrets', secret, 'ADDED');
    return secret;
  };

  const watch = (watcher: Watcher, query: URLSearchParams) => {
    const { res } = watcher;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    const from = query.get('resourceVersion');
    if (from && from !== '0') {
      const since = Number(from);
      const oldest = events[0]?.rv ?? rv + 1;
      if (since < oldest - 1 && events.length >= HISTORY) {
        send(res, { type: 'ERROR', object: statusObject(new HttpError(410, 'Expired', `too old resource version: ${since} (${oldest - 1})`)) });
        res.end();
        return;
      }
      for (const event of events) if (event.rv > since && matches(watcher, event)) send(res, event);
    } else {
      for (const object of list(watcher.resource, watcher.namespace)) {
        if (watcher.selector(object.metadata.labels) && (watcher.name === undefined || watcher.name === object.metadata.name)) send(res, { type: 'ADDED', object });
      }
    }
    watchers.add(watcher);
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '1800');
    const timer = setTimeout(() => res.end(), timeoutSeconds * 1000);
    res.once('close', () => {
      clearTimeout(timer);
      watchers.delete(watcher);
    });
  };

  const followLog = (pod: KubeObject, query: URLSearchParams, res: ServerResponse) => {
    const entry = containers.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    const containerName = query.get('container') ?? (pod.spec as PodSpec).containers[0]!.name;
    if (containerName !== (pod.spec as PodSpec).containers[0]!.name) throw new HttpError(400, 'BadRequest', `container ${containerName} is not valid for pod ${pod.metadata.name}`);
    if (!entry || !entry.started) {
      const waiting = ((pod.status as PodStatus).containerStatuses?.[0]?.state?.waiting ?? {}) as { reason?: string };
      throw new HttpError(400, 'BadRequest', `container "${containerName}" in pod "${pod.metadata.name}" is waiting to start: ${waiting.reason ?? 'ContainerCreating'}`);
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const follower: Follower = {
      write: (chunk) => void (res.writableEnded || res.write(chunk)),
      end: () => void (res.writableEnded || res.end()),
    };
    for (const chunk of entry.log) follower.write(chunk);
    if (query.get('follow') === 'true' && !entry.logClosed) {
      entry.followers.add(follower);
      const timer = options.logStreamMs === undefined ? undefined : setTimeout(() => follower.end(), options.logStreamMs);
      res.once('close', () => {
        clearTimeout(timer);
        entry.followers.delete(follower);
      });
    } else {
      follower.end();
    }
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;

  return {
    url,
    token,
    requests,
    pidNamespaces,
    kubeconfig(options = {}) {
      const contexts = options.contexts ?? [{ name: 'fake' }];
      const current = options.currentContext ?? contexts[0]!.name;
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${url}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        ...contexts.flatMap((c) => [`- name: user-${c.name}`, '  user:', `    token: ${c.token ?? token}`]),
        'contexts:',
        ...contexts.flatMap((c) => [`- name: ${c.name}`, '  context:', '    cluster: fake', `    user: user-${c.name}`, ...(c.namespace ? [`    namespace: ${c.namespace}`] : [])]),
        `current-context: ${current}`,
        '',
      ].join('\n');
    },
    objects: (resource, namespace) => list(resource, namespace).map(clone),
    runningContainers: () => [...containers.values()].filter((c) => c.child !== undefined && !c.exited).length,
    addNamespace: (name) => void namespaces.add(name),
    setJobCondition(namespace, name, condition) {
      const t = now();
      updateJobStatus(namespace, name, (status) => ({ ...status, conditions: [...((status.conditions ?? []) as unknown[]), { status: 'True', lastProbeTime: t, lastTransitionTime: t, ...condition }] }));
    },
    close() {
      return (closed ??= (async () => {
        closing = true;
        for (const timer of retries) clearTimeout(timer);
        for (const watcher of watchers) watcher.res.end();
        for (const entry of containers.values()) {
          clearTimeout(entry.pullTimer);
          for (const res of entry.followers) res.end();
          signalContainer(entry, 'SIGKILL');
        }
        await Promise.all([...containers.values()].map((c) => c.ended));
        server.close();
        for (const socket of sockets) socket.destroy();
      })());
    },
  };
}

// ---- shapes of what the fake reads ----

export interface SecurityContext {
  runAsNonRoot?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { prefix?: string; secretRef?: { name: string; optional?: boolean } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  securityContext?: SecurityContext;
}

export interface PodSpec {
  containers: ContainerSpec[];
  volumes?: { name: string; secret?: { secretName: string; defaultMode?: number } }[];
  restartPolicy?: string;
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  securityContext?: SecurityContext;
}

interface JobSpec {
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: PodSpec };
}

interface PodStatus {
  phase?: string;
  podIP?: string;
  conditions?: { type: string; status: string; [field: string]: unknown }[];
  containerStatuses?: { name: string; containerID?: string; state?: Record<string, unknown>; [field: string]: unknown }[];
}

// ---- admission plugins ----

/**
 * The PodSecurity admission plugin enforcing `restricted` (in the namespaces given, default all):
 * it checks what the real one checks of a pod like the runner's, and refuses it with the same
 * message.
 */
export function podSecurityRestricted(namespaces?: string[]): PodAdmission {
  return (pod) => {
    if (namespaces !== undefined && !namespaces.includes(pod.namespace)) return undefined;
    const problems: string[] = [];
    const containers = pod.spec.containers;
    const badEscalation = containers.filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map((c) => `"${c.name}"`);
    if (badEscalation.length > 0) problems.push(`allowPrivilegeEscalation != false (${plural('container', badEscalation)} must set securityContext.allowPrivilegeEscalation=false)`);
    const badCapabilities = containers.filter((c) => !c.securityContext?.capabilities?.drop?.includes('ALL')).map((c) => `"${c.name}"`);
    if (badCapabilities.length > 0) problems.push(`unrestricted capabilities (${plural('container', badCapabilities)} must set securityContext.capabilities.drop=["ALL"])`);
    const nonRoot = containers.filter((c) => (c.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot) !== true).map((c) => `"${c.name}"`);
    if (nonRoot.length > 0) problems.push(`runAsNonRoot != true (pod or ${plural('container', nonRoot)} must set securityContext.runAsNonRoot=true)`);
    const seccomp = containers.filter((c) => !['RuntimeDefault', 'Localhost'].includes(c.securityContext?.seccompProfile?.type ?? pod.spec.securityContext?.seccompProfile?.type ?? '')).map((c) => `"${c.name}"`);
    if (seccomp.length > 0) problems.push(`seccompProfile (pod or ${plural('container', seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
    return problems.length === 0 ? undefined : `pods "${pod.name}" is forbidden: violates PodSecurity "restricted:latest": ${problems.join(', ')}`;
  };
}

/**
 * The ResourceQuota admission plugin of a namespace whose quota `compute-resources` is used up,
 * until `liftAfterMs` after the first pod it refused (as when another workload ends).
 */
export function exceededQuota(options: { liftAfterMs: number; namespaces?: string[] }): PodAdmission {
  let firstAt: number | undefined;
  return (pod) => {
    if (options.namespaces !== undefined && !options.namespaces.includes(pod.namespace)) return undefined;
    firstAt ??= Date.now();
    if (Date.now() - firstAt >= options.liftAfterMs) return undefined;
    const memory = pod.spec.containers[0]?.resources?.limits?.memory ?? '0';
    return `pods "${pod.name}" is forbidden: exceeded quota: compute-resources, requested: limits.memory=${memory}, used: limits.memory=4Gi, limited: limits.memory=4Gi`;
  };
}

function plural(word: string, names: string[]): string {
  return `${word}${names.length > 1 ? 's' : ''} ${names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0]}`;
}

// ---- helpers ----

function involved(event: KubeObject): { kind?: string; namespace?: string; name?: string; uid?: string; apiVersion?: string; resourceVersion?: string; fieldPath?: string } {
  return (event.involvedObject ?? {}) as ReturnType<typeof involved>;
}

/** `a=b,c!=d` over the fields a resource supports; an unsupported field is refused as the API server refuses it. */
function parseFieldSelector(text: string, fields: Record<string, (object: KubeObject) => string>): (object: KubeObject) => boolean {
  const terms: ((object: KubeObject) => boolean)[] = [];
  for (const raw of text.split(',')) {
    const term = raw.trim();
    if (term === '') continue;
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new HttpError(400, 'BadRequest', `invalid field selector: "${term}"`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const get = fields[field];
    if (!get) throw new HttpError(400, 'BadRequest', `field label not supported: ${field}`);
    terms.push((object) => (op === '!=' ? get(object) !== value : get(object) === value));
  }
  return (object) => terms.every((t) => t(object));
}

function objectName(body: KubeObject, kind: string, max: number): string {
  const name = body.metadata?.name;
  if (!name) throw invalid(kind, '', ['metadata.name: Required value: name or generateName is required']);
  const pattern = max === 63 ? DNS_LABEL : DNS_SUBDOMAIN;
  if (name.length > max || !pattern.test(name)) throw invalid(kind, name, [`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 ${max === 63 ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-'${max === 63 ? '' : " or '.'"}, and must start and end with an alphanumeric character (at most ${max} characters)`]);
  return name;
}

function labelProblems(where: string, labels: Record<string, string> | undefined): string[] {
  return Object.entries(labels ?? {}).flatMap(([k, v]) => [
    ...(k.length <= 317 && LABEL_NAME.test(k) && (k.split('/').at(-1) ?? '').length <= 63 ? [] : [`${where}: Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'`]),
    ...(typeof v === 'string' && v.length <= 63 && LABEL_VALUE.test(v) ? [] : [`${where}: Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`]),
  ]);
}

function invalid(kind: string, name: string, problems: string[]): HttpError {
  const group = kind === 'Job' ? 'batch' : '';
  return new HttpError(422, 'Invalid', `${kind}${group ? `.${group}` : ''} "${name}" is invalid: ${problems.join(', ')}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: problems.map((message) => ({ reason: 'FieldValueInvalid', message, field: message.split(':')[0] })),
  });
}

function statusObject(error: HttpError): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: error.message, reason: error.reason, ...(error.details ? { details: error.details } : {}), code: error.code };
}

function success(object: KubeObject, resource: string, group: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: object.metadata.name, ...(group ? { group } : {}), kind: resource, uid: object.metadata.uid } };
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Equality (`a=b`, `a==b`), inequality (`a!=b`), existence (`a`, `!a`) and `a in (x,y)`. */
function parseSelector(text: string): Selector {
  const terms: ((labels: Record<string, string>) => boolean)[] = [];
  for (const raw of text.split(/,(?![^(]*\))/)) {
    const term = raw.trim();
    if (term === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(term))) {
      const [, k, v] = m as unknown as [string, string, string];
      terms.push((l) => l[k] !== v);
    } else if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(term))) {
      const [, k, v] = m as unknown as [string, string, string];
      terms.push((l) => l[k] === v);
    } else if ((m = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(term))) {
      const [, k, op, values] = m as unknown as [string, string, string, string];
      const set = new Set(values.split(',').map((v) => v.trim()));
      terms.push((l) => (op === 'in' ? l[k] !== undefined && set.has(l[k]) : l[k] === undefined || !set.has(l[k])));
    } else if (term.startsWith('!')) {
      terms.push((l) => l[term.slice(1)] === undefined);
    } else {
      terms.push((l) => l[term] !== undefined);
    }
  }
  return (labels) => terms.every((t) => t(labels ?? {}));
}

function applyPatch(object: KubeObject, patch: unknown, contentType: string): KubeObject {
  const target = structuredClone(object) as unknown as Record<string, unknown>;
  if (contentType.startsWith('application/json-patch+json')) {
    if (!Array.isArray(patch)) throw new HttpError(400, 'BadRequest', 'a JSON patch must be an array of operations');
    for (const op of patch as { op: string; path: string; value?: unknown }[]) {
      const parts = op.path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
      const last = parts.pop();
      if (last === undefined) throw new HttpError(422, 'Invalid', `the JSON patch path "${op.path}" is not supported`);
      let parent: Record<string, unknown> = target;
      for (const part of parts) {
        const next = parent[part];
        if (typeof next !== 'object' || next === null) throw new HttpError(422, 'Invalid', `the JSON patch path "${op.path}" does not exist`);
        parent = next as Record<string, unknown>;
      }
      if (op.op === 'add' || op.op === 'replace') {
        if (Array.isArray(parent) && last === '-') (parent as unknown[]).push(op.value);
        else parent[last] = op.value;
      } else if (op.op === 'remove') {
        delete parent[last];
      } else {
        throw new HttpError(422, 'Invalid', `the JSON patch operation "${op.op}" is not supported by the fake`);
      }
    }
    return target as unknown as KubeObject;
  }
  if (contentType.startsWith('application/merge-patch+json') || contentType.startsWith('application/strategic-merge-patch+json')) return mergePatch(target, patch) as KubeObject;
  throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

function discoveryReply(path: string): Record<string, unknown> | undefined {
  switch (path) {
    case '/version':
      return { major: '1', minor: '31', gitVersion: 'v1.31.0-fake', platform: 'linux/amd64' };
    case '/api':
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] };
    case '/apis':
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'batch', versions: [{ groupVersion: 'batch/v1', version: 'v1' }], preferredVersion: { groupVersion: 'batch/v1', version: 'v1' } }] };
    case '/api/v1':
      return {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'] },
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'], categories: ['all'] },
          { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
          { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
          { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ev'] },
        ],
      };
    case '/apis/batch/v1':
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'batch/v1',
        resources: [
          { name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], categories: ['all'] },
          { name: 'jobs/status', singularName: '', namespaced: true, kind: 'Job', verbs: ['get', 'patch', 'update'] },
        ],
      };
    default:
      return undefined;
  }
}

/** Whether `unshare --pid --fork` works here (it needs root, or user namespaces). */
function canUnshare(): boolean {
  try {
    return spawnSync('unshare', ['--pid', '--fork', '--kill-child', 'true'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
  } catch {
    return false;
  }
}

/** The first child of a process (unshare's forked child: the container's PID 1). */
function firstChild(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const first = Number(text.split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

/** Every process below `root` in the process tree, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // It ended meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) ?? 1;
}
