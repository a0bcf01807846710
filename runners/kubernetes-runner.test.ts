// The kubernetes runner: the shared conformance suite against a fake API server whose pods run
// for real on this host (test/helpers/fake-kubernetes.ts), then what only a Job-per-attempt runner
// can show: the Job it creates (labels, limits, backstops, no task values in it), that the Job,
// its pod and its Secret go after every kind of end, image pull failures, pods the cluster refuses
// to create, images run as built (tasks without commands), namespace and context, kubeconfig
// problems. One case runs against a real cluster, only when KUBECONFIG names one.
import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runnerConformance } from './conformance.js';
import { createKubernetesRunner, jobName, labelValue, type KubernetesRunnerOptions } from './kubernetes-runner.js';
import type { LogLine, Runner, TaskExecution } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import { exceededQuota, podSecurityRestricted, startFakeKubernetes, type FakeImage, type FakeKubernetes, type KubeObject, type PodAdmission, type RecordedRequest } from '../test/helpers/fake-kubernetes.js';

const IMAGE = 'busybox:1.36';
// Images run as built (tasks without commands), from the fake's image registry.
const HELLO = 'eventops-test/hello:1';
const WRITES_OUTPUTS = 'eventops-test/outputs:1';
const IMAGES: Record<string, FakeImage> = {
  // Its env (the task's), a line on stderr, and the exit code $EXIT_CODE.
  [HELLO]: { entrypoint: ['sh', '-c', 'echo "hello $WHO from $EVENTOPS_TASK"; echo "token=$TOKEN"; echo "to stderr" >&2; exit "${EXIT_CODE:-0}"'] },
  // ENTRYPOINT and CMD together; outputs written to $EVENTOPS_OUTPUT, one of them over two lines.
  [WRITES_OUTPUTS]: { entrypoint: ['sh', '-c'], cmd: ['echo "greeting=hi $WHO" >> "$EVENTOPS_OUTPUT"; printf "multi<<EOF\\nline 1\\nline 2\\nEOF\\n" >> "$EVENTOPS_OUTPUT"; echo done'] },
  'eventops-test/big-outputs:1': { entrypoint: ['sh', '-c', 'printf "big=%05000d\\n" 0 >> "$EVENTOPS_OUTPUT"'] },
  'eventops-test/sleeper:1': { entrypoint: ['sh', '-c', 'echo started; sleep 30'] },
};

runnerConformance('kubernetes', async () => {
  const fake = await startFakeKubernetes();
  const inner = createKubernetesRunner({ kubeconfig: fake.kubeconfig(), killGraceMs: 2_000 });
  // Every kubernetes task names an image; the conformance cases do not.
  const runner: Runner = { type: inner.type, run: (execution, io) => inner.run({ image: IMAGE, ...execution }, io), close: () => inner.close() };
  return {
    runner,
    async cleanup() {
      await runner.close();
      const leftovers = fake.runningContainers();
      await fake.close();
      expect(leftovers).toBe(0);
    },
  };
});

describe('kubernetes runner', () => {
  let fake: FakeKubernetes;
  beforeAll(async () => {
    fake = await startFakeKubernetes({ namespaces: ['default', 'ci', 'other'], images: IMAGES });
  });
  afterAll(async () => {
    await fake?.close();
  });
  // A test must not leave a Job, a pod, a Secret or a process behind.
  afterEach(async () => {
    await until(() => fake.runningContainers() === 0 && fake.objects('pods').length === 0);
    expect(fake.objects('jobs')).toEqual([]);
    expect(fake.objects('secrets')).toEqual([]);
  });

  // `on`: another fake than the shared one (one started with options of its own).
  const run = async (execution: Partial<TaskExecution>, options: Partial<KubernetesRunnerOptions> & { signal?: AbortSignal; onLine?: (line: LogLine, runner: Runner) => void; on?: FakeKubernetes } = {}) => {
    const { signal, onLine, on, ...runnerOptions } = options;
    const server = on ?? fake;
    const runner = createKubernetesRunner({ kubeconfig: server.kubeconfig(), killGraceMs: 2_000, ...runnerOptions });
    const lines: LogLine[] = [];
    const before = server.requests.length;
    const full: TaskExecution = { runId: randomUUID(), task: 'k8s', attempt: 1, image: IMAGE, commands: [], env: {}, outputs: [], secrets: [], ...execution };
    const started = Date.now();
    const result = await runner.run(full, {
      signal: signal ?? new AbortController().signal,
      onLine: (line) => {
        lines.push(line);
        onLine?.(line, runner);
      },
    });
    const ms = Date.now() - started;
    await runner.close();
    const requests = server.requests.slice(before);
    const of = (stream: LogLine['stream']) => lines.filter((l) => l.stream === stream).map((l) => l.text);
    return { result, lines, ms, requests, stdout: of('stdout'), stderr: of('stderr'), system: of('system') };
  };
  const created = (requests: RecordedRequest[], resource: 'jobs' | 'secrets') => requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/${resource}`)).map((r) => r.body as KubeObject);
  const deleted = (requests: RecordedRequest[], resource: 'jobs' | 'secrets' | 'pods') => requests.filter((r) => r.method === 'DELETE' && r.path.includes(`/${resource}/`));

  it('creates one Job per attempt: labels, limits, backstops, and no value of the task in it', async () => {
    const token = 'tok-3f9a1c77-secret';
    const { result, requests } = await run({
      task: 'Build & Test!',
      attempt: 2,
      env: { PLAIN_VALUE: 'plain-env-value-81c2', TOKEN: token },
      secrets: [token],
      commands: ['echo "a command only the Secret holds"'],
      resources: { cpu: 0.5, memoryBytes: 256 * 1024 * 1024 },
      timeoutMs: 90_000,
    }, { workerId: 'worker 7', killGraceMs: 2_500 });
    expect(result.status).toBe('succeeded');
    const [job] = created(requests, 'jobs') as [JobBody];
    const [secret] = created(requests, 'secrets') as [KubeObject & { data: Record<string, string> }];
    expect(created(requests, 'jobs')).toHaveLength(1);
    expect(job.metadata.name).toMatch(/^eventops-build-test-2-[0-9a-f]{8}$/);
    expect(job.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'eventops', 'eventops.dev/task': 'Build_Test', 'eventops.dev/attempt': '2', 'eventops.dev/worker': 'worker_7' });
    expect(job.metadata.labels?.['eventops.dev/run']).toMatch(/^[0-9a-f-]{36}$/);
    expect(job.metadata.annotations).toMatchObject({ 'eventops.dev/task': 'Build & Test!' });
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 150, ttlSecondsAfterFinished: 3600 });
    const pod = job.spec.template.spec;
    expect(pod).toMatchObject({ restartPolicy: 'Never', terminationGracePeriodSeconds: 3, automountServiceAccountToken: false });
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0]).toMatchObject({ image: IMAGE, resources: { limits: { cpu: '500m', memory: String(256 * 1024 * 1024) }, requests: { cpu: '500m', memory: String(256 * 1024 * 1024) } } });
    expect(pod.containers[0]!.env).toBeUndefined();
    expect(pod.volumes).toEqual([{ name: 'eventops', secret: { secretName: secret.metadata.name, defaultMode: 0o444 } }]);
    // The values live in the Secret only.
    const spec = JSON.stringify(job);
    for (const value of ['plain-env-value-81c2', token, 'a command only the Secret holds']) {
      expect(spec).not.toContain(value);
      expect(spec).not.toContain(Buffer.from(value).toString('base64').slice(0, 16));
    }
    expect(Buffer.from(secret.data['run.sh']!, 'base64').toString()).toContain('plain-env-value-81c2');
    // The Secret is owned by its Job, so it goes with it even if the runner dies.
    const patch = requests.find((r) => r.method === 'PATCH' && r.path.endsWith(`/secrets/${secret.metadata.name}`));
    expect(patch?.body).toEqual([{ op: 'add', path: '/metadata/ownerReferences', value: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: expect.any(String) }] }]);
  });

  it('deletes the Job (with its pod) and the Secret after a success and after a failure', async () => {
    for (const commands of [['echo fine'], ['echo broken', 'exit 7']]) {
      const { result, requests } = await run({ commands });
      expect(result.status).toBe(commands.length === 1 ? 'succeeded' : 'failed');
      const [job] = created(requests, 'jobs');
      expect(deleted(requests, 'jobs').map((r) => [r.path.split('/').at(-1), r.query.propagationPolicy])).toEqual([[job!.metadata.name, 'Background']]);
      expect(deleted(requests, 'secrets')).toHaveLength(1);
      expect(fake.objects('jobs')).toEqual([]);
      expect(fake.objects('secrets')).toEqual([]);
    }
  });

  it('deletes the Job on timeout; the pod gets SIGTERM through its PID 1 and ends within the grace period', async () => {
    const { result, stdout, system, requests, ms } = await run({ timeoutMs: 800, commands: ["trap 'echo got TERM; exit 9' TERM", 'echo started', 'sleep 30 & wait'] }, { killGraceMs: 10_000 });
    expect(result).toEqual({ status: 'timed_out', exitCode: null, outputs: {}, error: 'timed out after 800ms' });
    expect(stdout).toEqual(['started', 'got TERM']);
    expect(system.join('\n')).toMatch(/timed out after 800ms: stopping the task \(deleting the Job eventops-k8s-1-/);
    expect(ms).toBeLessThan(8_000);
    expect(deleted(requests, 'jobs').length).toBeGreaterThanOrEqual(1);
    expect(deleted(requests, 'jobs').every((r) => r.query.propagationPolicy === 'Background')).toBe(true);
  });

  it('deletes the Job on cancel, and SIGKILLs a task that ignores SIGTERM after the grace period', async () => {
    const abort = new AbortController();
    const { result, stdout, ms } = await run({ commands: ["trap '' TERM", 'echo started', 'sleep 30'] }, { signal: abort.signal, killGraceMs: 1_000, onLine: (line) => line.text === 'started' && abort.abort() });
    expect(result).toEqual({ status: 'cancelled', exitCode: null, outputs: {}, error: 'cancelled' });
    expect(stdout).toEqual(['started']);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(8_000);
  });

  it('creates nothing for an attempt cancelled before it starts', async () => {
    const abort = new AbortController();
    abort.abort();
    const { result, requests } = await run({ commands: ['echo ran'] }, { signal: abort.signal });
    expect(result).toMatchObject({ status: 'cancelled', exitCode: null });
    expect(requests).toEqual([]);
  });

  it('fails an image that cannot be pulled at once, naming it, and cleans up', async () => {
    const { result, stdout, requests, ms } = await run({ image: 'missing/no-such-image:1.0', commands: ['echo ran'], timeoutMs: 20_000 });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain('could not pull the image "missing/no-such-image:1.0" (ErrImagePull');
    expect(stdout).toEqual([]);
    expect(ms).toBeLessThan(5_000);
    expect(deleted(requests, 'jobs')).toHaveLength(1);
  });

  it('fails a task without an image, creating nothing', async () => {
    const { result, requests } = await run({ image: undefined, commands: ['echo ran'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain('needs an image');
    expect(requests).toEqual([]);
  });

  it('uses the namespace of the context asked for, or the one given', async () => {
    const kubeconfig = fake.kubeconfig({ contexts: [{ name: 'refused', token: 'not-the-token' }, { name: 'ci-context', namespace: 'ci' }], currentContext: 'refused' });
    const inContext = await run({ commands: ['echo hi'] }, { kubeconfig, context: 'ci-context' });
    expect(inContext.result.status).toBe('succeeded');
    expect(inContext.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/api/v1/namespaces/ci/secrets', '/apis/batch/v1/namespaces/ci/jobs']);

    const given = await run({ commands: ['echo hi'] }, { kubeconfig, context: 'ci-context', namespace: 'other' });
    expect(given.result.status).toBe('succeeded');
    expect(given.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/api/v1/namespaces/other/secrets', '/apis/batch/v1/namespaces/other/jobs']);

    const current = await run({ commands: ['echo hi'] }, { kubeconfig });
    expect(current.result).toMatchObject({ status: 'failed', exitCode: null });
    expect(current.result.error).toContain('could not create the Secret');
    expect(current.result.error).toContain('HTTP 401');
    expect(current.result.error).toContain('credentials of the kubeconfig were refused');

    const plain = await run({ commands: ['echo hi'] });
    expect(plain.requests.find((r) => r.method === 'POST')?.path).toBe('/api/v1/namespaces/default/secrets');
  });

  it('fails an attempt in a namespace that does not exist, saying so', async () => {
    const { result } = await run({ commands: ['echo hi'] }, { namespace: 'nowhere' });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain('namespaces "nowhere" not found');
  });

  it('fails an attempt clearly when the API server cannot be reached', async () => {
    const gone = await startFakeKubernetes();
    const kubeconfig = gone.kubeconfig();
    await gone.close();
    const { result } = await run({ commands: ['echo hi'] }, { kubeconfig });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toMatch(/^could not create the Secret eventops-k8s-1-[0-9a-f]{8}-script in namespace "default" of http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('fails each attempt, creating nothing, when the kubeconfig cannot be used', async () => {
    const cases: [Partial<KubernetesRunnerOptions>, string][] = [
      [{ kubeconfig: 'clusters: [unclosed\n  token: hunter2' }, 'kubeconfig cannot be read'],
      [{ kubeconfig: fake.kubeconfig(), context: 'nope' }, 'no context "nope" (it has: fake)'],
      [{ kubeconfig: fake.kubeconfig().replace('current-context: fake', 'current-context: gone') }, 'current context "gone"'],
      [{ kubeconfig: fake.kubeconfig().replace('    insecure-skip-tls-verify: true\n', '') }, 'plain HTTP'],
      [{ kubeconfig: fake.kubeconfig(), inCluster: true }, 'exactly one of'],
      [{ kubeconfig: undefined }, 'exactly one of'],
      [{ kubeconfig: fake.kubeconfig(), namespace: 'Not_A_Namespace' }, 'is not a namespace name'],
    ];
    for (const [options, message] of cases) {
      const { result, requests } = await run({ commands: ['echo hi'] }, options);
      expect(result).toMatchObject({ status: 'failed', exitCode: null });
      expect(result.error).toContain(message);
      expect(result.error).not.toContain('hunter2');
      expect(requests).toEqual([]);
    }
  });

  it('brings back outputs larger than a log line, and long stderr lines whole on stderr', async () => {
    const { result, stdout, stderr } = await run({
      commands: ['printf "%0150000d" 0 > big.txt', 'printf "%0100000d\\n" 0 >&2', 'echo "after" >&2', 'echo done'],
      outputs: [{ name: 'big', fromFile: 'big.txt' }],
    });
    expect(result.status).toBe('succeeded');
    expect(result.outputs.big).toBe('0'.repeat(150_000));
    expect(stdout).toEqual(['done']);
    expect(stderr.at(-1)).toBe('after');
    expect(stderr.slice(0, -1).join('')).toBe('0'.repeat(100_000));
    expect(stderr.length).toBeGreaterThan(2);
  });

  it('reads the whole log when its stream breaks off, from where it stopped', async () => {
    const flaky = await startFakeKubernetes({ logStreamMs: 300 });
    try {
      const runner = createKubernetesRunner({ kubeconfig: flaky.kubeconfig() });
      const lines: string[] = [];
      const result = await runner.run(
        {
          runId: randomUUID(),
          task: 'flaky',
          attempt: 1,
          image: IMAGE,
          commands: ['i=1', 'while [ "$i" -le 3000 ]; do echo "line $i"; case $i in *00) sleep 0.05;; esac; i=$((i + 1)); done', 'echo "n=$i" >> "$EVENTOPS_OUTPUT"'],
          env: {},
          outputs: [],
          secrets: [],
        },
        { signal: new AbortController().signal, onLine: (line) => line.stream === 'stdout' && lines.push(line.text) },
      );
      await runner.close();
      expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { n: '3001' } });
      expect(lines).toHaveLength(3000);
      expect(lines.every((text, i) => text === `line ${i + 1}`)).toBe(true);
      // The first stream broke off while the task still printed (after 300 ms of its 1.5 s or more).
      expect(flaky.requests.filter((r) => r.path.endsWith('/log')).length).toBeGreaterThanOrEqual(2);
    } finally {
      await flaky.close();
    }
  });

  it('stops its running attempts on close(): their Jobs are deleted', async () => {
    const { result, stdout } = await run({ commands: ['echo started', 'sleep 30'] }, { onLine: (line, runner) => line.text === 'started' && void runner.close() });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain('closed');
    expect(stdout).toEqual(['started']);
  });

  it('rejects a run after close(), and close() is idempotent', async () => {
    const runner = createKubernetesRunner({ kubeconfig: fake.kubeconfig() });
    await runner.close();
    await runner.close();
    await expect(runner.run({ runId: randomUUID(), task: 't', attempt: 1, image: IMAGE, commands: ['true'], env: {}, outputs: [], secrets: [] }, { signal: new AbortController().signal, onLine: () => undefined })).rejects.toThrow('closed');
  });

  it('rejects when io.onLine throws, after the attempt ended and was cleaned up', async () => {
    const runner = createKubernetesRunner({ kubeconfig: fake.kubeconfig() });
    const attempt = runner.run({ runId: randomUUID(), task: 't', attempt: 1, image: IMAGE, commands: ['echo boom'], env: {}, outputs: [], secrets: [] }, {
      signal: new AbortController().signal,
      onLine: (line) => {
        if (line.text === 'boom') throw new Error('sink failed');
      },
    });
    await expect(attempt).rejects.toThrow('io.onLine threw');
    await runner.close();
  });

  describe('a pod the cluster refuses to create', () => {
    // A fake of its own per case: admission is an option of the API server.
    const withAdmission = async (admitPod: PodAdmission, body: (server: FakeKubernetes) => Promise<void>) => {
      const server = await startFakeKubernetes({ admitPod, podRetryMs: 100, images: IMAGES });
      try {
        await body(server);
        await until(() => server.runningContainers() === 0 && server.objects('pods').length === 0);
        expect(server.objects('jobs')).toEqual([]);
        expect(server.objects('secrets')).toEqual([]);
      } finally {
        await server.close();
      }
    };
    const eventReads = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/events');

    it('fails the attempt within seconds, quoting the API server, when PodSecurity or a webhook refuses the pod', async () => {
      const webhook: PodAdmission = ({ name }) => `admission webhook "images.policy.example.com" denied the request: pods "${name}": images from docker.io are not allowed`;
      const podSecurity = ['is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "task" must set securityContext.allowPrivilegeEscalation=false)', 'pod-security.kubernetes.io/enforce'];
      // The last case: an image run as built (no commands) is refused the same way.
      const cases: [PodAdmission, string[], Partial<TaskExecution>][] = [
        [podSecurityRestricted(), podSecurity, { commands: ['echo ran'] }],
        [webhook, ['admission webhook "images.policy.example.com" denied the request', "meet the webhook's policy"], { commands: ['echo ran'] }],
        [podSecurityRestricted(), podSecurity, { image: HELLO, commands: [] }],
      ];
      for (const [admitPod, messages, task] of cases) {
        await withAdmission(admitPod, async (server) => {
          const { result, stdout, ms, requests } = await run({ ...task, timeoutMs: 12_000 }, { on: server });
          expect(result).toMatchObject({ status: 'failed', exitCode: null });
          expect(result.error).toMatch(/^the cluster refused to create the pod of the Job eventops-k8s-1-[0-9a-f]{8} in namespace "default" of http:\/\/127\.0\.0\.1:\d+: /);
          for (const message of messages) expect(result.error).toContain(message);
          expect(result.error).not.toContain('Error creating:');
          expect(stdout).toEqual([]);
          expect(ms).toBeLessThan(5_000);
          // The events were read for this Job only, by the fields core/v1 events can be selected by.
          const [job] = created(requests, 'jobs');
          const owner = requests.find((r) => r.method === 'PATCH' && r.path.includes('/secrets/'))?.body as [{ value: [{ uid: string }] }];
          expect(eventReads(requests).length).toBeGreaterThanOrEqual(1);
          for (const read of eventReads(requests)) expect(read.query.fieldSelector).toBe(`involvedObject.kind=Job,involvedObject.name=${job!.metadata.name},involvedObject.uid=${owner[0].value[0].uid}`);
          expect(deleted(requests, 'jobs')).toHaveLength(1);
          expect(server.objects('events').some((e) => e.reason === 'FailedCreate')).toBe(true);
        });
      }
    });

    it('waits while a quota refuses the pod, saying so once, then runs the task once the quota allows it', async () => {
      await withAdmission(exceededQuota({ liftAfterMs: 3_000 }), async (server) => {
        const { result, stdout, system, ms, requests } = await run({ commands: ['echo ran'], timeoutMs: 30_000 }, { on: server });
        expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: {} });
        expect(stdout).toEqual(['ran']);
        const waiting = system.filter((line) => line.startsWith('waiting: '));
        expect(waiting).toHaveLength(1);
        expect(waiting[0]).toMatch(/^waiting: the cluster does not create the pod of the Job eventops-k8s-1-[0-9a-f]{8} yet: pods "eventops-k8s-1-[0-9a-f-]+" is forbidden: exceeded quota: compute-resources, /);
        expect(ms).toBeGreaterThanOrEqual(2_900);
        // Refused more than once (the controller retried) before the pod was made.
        expect(server.objects('events').find((e) => e.reason === 'FailedCreate')).toBeDefined();
        expect(eventReads(requests).length).toBeGreaterThanOrEqual(2);
      });
    });

    it('ends the attempt when the Job fails while it has no pod, with the reason and message of its condition', async () => {
      await withAdmission(exceededQuota({ liftAfterMs: 600_000 }), async (server) => {
        const { result } = await run({ commands: ['echo ran'], timeoutMs: 30_000 }, {
          on: server,
          onLine: (line) => {
            const job = /Job (eventops-k8s-1-[0-9a-f]{8})/.exec(line.text)?.[1];
            if (line.text.startsWith('waiting: ') && job) server.setJobCondition('default', job, { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' });
          },
        });
        expect(result).toMatchObject({ status: 'timed_out', exitCode: null });
        expect(result.error).toMatch(/^the Job eventops-k8s-1-[0-9a-f]{8} failed before it had a pod \(DeadlineExceeded: Job was active longer than specified deadline\)$/);
      });
    });
  });

  describe('a task without commands: the image runs as built', () => {
    it('runs its entrypoint with the env from the Secret only, every line on stdout, secrets masked', async () => {
      const token = 'tok-plain-9e2b41';
      const value = 'plain-env-value-5d1a';
      let pods: KubeObject[] = [];
      const { result, stdout, stderr, system, requests } = await run(
        { image: HELLO, commands: [], env: { WHO: value, TOKEN: token }, secrets: [token], workdir: 'sub', shell: 'bash' },
        {
          onLine: (line) => {
            // The pod as the cluster holds it while the task runs.
            if (line.stream === 'system' && line.text.startsWith('running in pod')) pods = fake.objects('pods');
          },
        },
      );
      expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: {} });
      // Kubernetes merges the streams and nothing tags stderr: all of it is stdout.
      expect([...stdout].sort()).toEqual([`hello ${value} from k8s`, 'to stderr', 'token=***']);
      expect(stderr).toEqual([]);
      expect(system).toContain('workdir and shell are not used: the task has no commands, so its image runs as built');
      const [job] = created(requests, 'jobs') as [JobBody];
      const [secret] = created(requests, 'secrets') as [KubeObject & { data: Record<string, string> }];
      const container = job.spec.template.spec.containers[0]!;
      expect(container.command).toBeUndefined();
      expect(container.args).toBeUndefined();
      expect(container.envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
      expect(container.env).toEqual([
        { name: 'EVENTOPS_RUN_ID', value: expect.stringMatching(/^[0-9a-f-]{36}$/) },
        { name: 'EVENTOPS_TASK', value: 'k8s' },
        { name: 'EVENTOPS_ATTEMPT', value: '1' },
        { name: 'EVENTOPS_OUTPUT', value: '/dev/termination-log' },
      ]);
      expect(container).toMatchObject({ terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
      expect(job.spec.template.spec.volumes).toBeUndefined();
      // The values are the Secret's keys, and nowhere in the Job or its pod.
      expect(Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))).toEqual({ WHO: value, TOKEN: token });
      expect(pods.map((p) => p.metadata.labels?.['eventops.dev/job'])).toEqual([job.metadata.name]);
      for (const spec of [JSON.stringify(job), JSON.stringify(pods)]) {
        for (const text of [value, token]) {
          expect(spec).not.toContain(text);
          expect(spec).not.toContain(Buffer.from(text).toString('base64').slice(0, 12));
        }
      }
    });

    it('fails with the exit code of the container', async () => {
      const { result } = await run({ image: HELLO, commands: [], env: { EXIT_CODE: '3' } });
      expect(result).toEqual({ status: 'failed', exitCode: 3, outputs: {}, error: 'exit code 3' });
    });

    it('reads the name=value lines written to $EVENTOPS_OUTPUT (its termination log) as outputs', async () => {
      const { result, stdout } = await run({ image: WRITES_OUTPUTS, commands: [], env: { WHO: 'there' } });
      expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { greeting: 'hi there', multi: 'line 1\nline 2' } });
      expect(stdout).toEqual(['done']);
    });

    it('fails when $EVENTOPS_OUTPUT holds more than the kubelet keeps (4096 bytes)', async () => {
      const { result } = await run({ image: 'eventops-test/big-outputs:1', commands: [] });
      expect(result).toMatchObject({ status: 'failed', exitCode: 0, outputs: {} });
      expect(result.error).toContain('holds 4096 bytes or more, and Kubernetes keeps only its last 4096');
    });

    it('refuses fromEnv and fromFile outputs before creating anything, saying they need commands', async () => {
      for (const output of [{ name: 'version', fromEnv: 'VERSION' }, { name: 'report', fromFile: 'report.txt' }]) {
        const { result, requests } = await run({ image: HELLO, commands: [], outputs: [output] });
        expect(result).toMatchObject({ status: 'failed', exitCode: null, outputs: {} });
        expect(result.error).toMatch(new RegExp(`^output "${output.name}": from(Env|File) "[A-Za-z.]+" needs \`commands\`: a task without commands runs its image as built`));
        expect(requests).toEqual([]);
      }
    });

    it('stops the container on timeout', async () => {
      const { result, stdout, ms } = await run({ image: 'eventops-test/sleeper:1', commands: [], timeoutMs: 800 }, { killGraceMs: 1_000 });
      expect(result).toEqual({ status: 'timed_out', exitCode: null, outputs: {}, error: 'timed out after 800ms' });
      expect(stdout).toEqual(['started']);
      expect(ms).toBeLessThan(8_000);
    });
  });

  it('masks a secret in a line longer than 64 KiB before cutting it, so no piece holds part of it', async () => {
    const secret = 'sek-7c1e0b-value';
    // The secret straddles the 64 KiB cut: cut first, masked after, both halves would leak.
    const { result, stdout } = await run({ commands: ['printf "%065530d%s%s\\n" 0 "$TOKEN" tail'], env: { TOKEN: secret }, secrets: [secret] });
    expect(result.status).toBe('succeeded');
    const all = stdout.join('');
    expect(all).toBe(`${'0'.repeat(65_530)}***tail`);
    expect(stdout.length).toBeGreaterThan(1);
    for (const piece of stdout) for (const part of [secret.slice(0, 6), secret.slice(-6)]) expect(piece).not.toContain(part);
  });

  it('reports no line once the result was returned (attemptReport quietAfterSettle)', () => {
    const execution: TaskExecution = { runId: randomUUID(), task: 't', attempt: 1, commands: [], env: {}, outputs: [], secrets: ['s3cr3t'] };
    for (const quietAfterSettle of [true, false]) {
      const seen: string[] = [];
      const report = attemptReport(execution, { signal: new AbortController().signal, onLine: (line) => seen.push(line.text) }, createMasker(execution.secrets), undefined, { quietAfterSettle });
      report.emit('stdout', 'before s3cr3t');
      report.emitMasked('stdout', 'already masked s3cr3t');
      report.settle(report.ended('succeeded', 0));
      report.emit('system', 'after');
      expect(seen).toEqual(['before ***', 'already masked s3cr3t', ...(quietAfterSettle ? [] : ['after'])]);
    }
  });

  it('makes Job names and label values Kubernetes accepts', () => {
    expect(jobName('Deploy_To Prod', 3)).toMatch(/^eventops-deploy-to-prod-3-[0-9a-f]{8}$/);
    expect(jobName('---', 1)).toMatch(/^eventops-task-1-[0-9a-f]{8}$/);
    const long = jobName('x'.repeat(200), 12345);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(labelValue('a/b c')).toBe('a_b_c');
    expect(labelValue('-_x_-')).toBe('x');
    expect(labelValue('é'.repeat(100))).toBe('');
    expect(labelValue('y'.repeat(100))).toHaveLength(63);
  });

  // Against a real cluster: KUBECONFIG=<file> [EVENTOPS_TEST_K8S_IMAGE=busybox:1.36] [EVENTOPS_TEST_K8S_NAMESPACE=…]
  const kubeconfigFile = process.env.KUBECONFIG;
  it.runIf(kubeconfigFile !== undefined && kubeconfigFile !== '' && existsSync(kubeconfigFile))(
    'runs a task on the real cluster KUBECONFIG names',
    async () => {
      const runner = createKubernetesRunner({ kubeconfig: readFileSync(kubeconfigFile!, 'utf8'), ...(process.env.EVENTOPS_TEST_K8S_NAMESPACE ? { namespace: process.env.EVENTOPS_TEST_K8S_NAMESPACE } : {}) });
      const lines: LogLine[] = [];
      try {
        const result = await runner.run(
          { runId: randomUUID(), task: 'real-cluster', attempt: 1, image: process.env.EVENTOPS_TEST_K8S_IMAGE || 'busybox:1.36', commands: ['echo "hello $WHO"', 'echo oops >&2', 'echo "who=$WHO" >> "$EVENTOPS_OUTPUT"'], env: { WHO: 'cluster' }, outputs: [], secrets: [], timeoutMs: 150_000 },
          { signal: new AbortController().signal, onLine: (line) => lines.push(line) },
        );
        expect(result, lines.map((l) => `${l.stream}: ${l.text}`).join('\n')).toEqual({ status: 'succeeded', exitCode: 0, outputs: { who: 'cluster' } });
        expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual(['hello cluster']);
        expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual(['oops']);
      } finally {
        await runner.close();
      }
    },
    180_000,
  );
});

interface JobBody extends KubeObject {
  spec: {
    backoffLimit?: number;
    activeDeadlineSeconds?: number;
    template: { spec: { containers: { image: string; command?: string[]; args?: string[]; env?: unknown; envFrom?: unknown; resources?: unknown; [field: string]: unknown }[]; volumes?: unknown[]; [field: string]: unknown } };
    [field: string]: unknown;
  };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 25));
}
