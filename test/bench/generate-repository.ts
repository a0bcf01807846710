// A deterministic generator of valid eventops definition repositories, for benchmarks: a seeded
// PRNG picks actuators, pipelines (apps and library pipelines they call), triggers and events in
// fixed proportions, spread over team/service folders, so the same size always gives the same
// bytes. Every generated repository validates with no error.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Actuator, Event as EventDefinition, Pipeline, Task, Trigger } from '../../schemas/index.js';

/** The PRNG seed; a repository of `total` files is generated from `SEED + total`. */
export const SEED = 20240611;

export type Rng = () => number;
type Document = Actuator | Pipeline | Trigger | EventDefinition;

/** mulberry32: small, fast and good enough to vary generated definitions reproducibly. */
export function seeded(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)] as T;
const between = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
export const hex = (rng: Rng, length: number): string => Array.from({ length }, () => Math.floor(rng() * 16).toString(16)).join('');

const TEAMS = Array.from({ length: 12 }, (_, i) => `team-${String(i).padStart(2, '0')}`);
const SERVICES = ['payments', 'checkout', 'search', 'billing', 'catalog', 'ledger', 'gateway', 'mailer'];
const RUNNERS = ['local', 'ssh', 'docker', 'kubernetes', 'agent'] as const;
const TAG_SETS = [['linux'], ['linux', 'build'], ['linux', 'deploy']] as const;
const ENVS = ['dev', 'staging', 'prod'];

interface PipelinePlan {
  name: string;
  /** Library pipelines are called by `pipeline` tasks: they require `image` and output `url`. */
  library: boolean;
}

interface FilePlan {
  kind: 'actuators' | 'pipelines' | 'triggers' | 'events';
  /** Index within its kind. */
  index: number;
}

/** Exact quotas per kind: ~5% actuators, ~60% pipelines, ~30% triggers, ~5% events. */
function planFiles(total: number): FilePlan[] {
  const actuators = Math.round(total * 0.05);
  const triggers = Math.round(total * 0.3);
  const events = Math.round(total * 0.05);
  const quotas = [
    ['actuators', actuators],
    ['pipelines', total - actuators - triggers - events],
    ['triggers', triggers],
    ['events', events],
  ] as const;
  return quotas.flatMap(([kind, count]) => Array.from({ length: count }, (_, index) => ({ kind, index })));
}

function planPipelines(count: number): PipelinePlan[] {
  return Array.from({ length: count }, (_, p) => {
    const library = p % 5 === 0;
    const service = SERVICES[p % SERVICES.length] as string;
    return { name: library ? `lib-${service}-rollout-${p}` : `${service}-deploy-${p}`, library };
  });
}

function actuator(a: number, rng: Rng): Actuator {
  // The first 15 cover every runner type × tag set, so no task selector goes unsatisfied.
  const runner = RUNNERS[a % RUNNERS.length] as (typeof RUNNERS)[number];
  const tags = [...(TAG_SETS[Math.floor(a / RUNNERS.length) % TAG_SETS.length] ?? []), `zone-${a % 4}`];
  return {
    apiVersion: 'eventops.dev/v1',
    kind: 'Actuator',
    metadata: { name: `${runner}-runner-${a}`, labels: { team: TEAMS[a % TEAMS.length] as string } },
    spec: { tags, concurrency: between(rng, 1, 8), ...connection(runner, a) },
  };
}

function connection(runner: (typeof RUNNERS)[number], a: number): Partial<Actuator['spec']> {
  switch (runner) {
    case 'local':
      return { local: { shell: '/bin/bash' } };
    case 'ssh':
      return {
        ssh: {
          host: `10.0.${a % 250}.${(a * 7) % 250}`,
          port: 22,
          user: 'deploy',
          privateKey: { secret: `SSH_KEY_${a}` },
          hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchHostKey',
        },
      };
    case 'docker':
      return { docker: { host: 'unix:///var/run/docker.sock' } };
    case 'kubernetes':
      return a % 2 === 0
        ? { kubernetes: { inCluster: true, namespace: 'pipelines' } }
        : { kubernetes: { kubeconfig: { secret: `KUBECONFIG_${a}` }, namespace: 'ops' } };
    case 'agent':
      return { agent: { id: `edge-${a}`, token: { secret: `AGENT_${a}_TOKEN` } } };
  }
}

/** What a downstream task may read of an upstream one. */
interface Produced {
  name: string;
  output: string;
}

function pipeline(plan: PipelinePlan, rng: Rng, libraries: readonly PipelinePlan[]): Pipeline {
  const head = plan.library ? libraryHead() : appHead();
  const tasks = [...head.tasks];
  const produced: Produced[] = [...head.produced];
  const count = between(rng, 3, 8);
  for (let k = tasks.length; k < count; k++) {
    const task = middleTask(k, rng, produced, plan.library ? [] : libraries);
    tasks.push(task.task);
    produced.push(task.produced);
  }
  const last = produced[produced.length - 1] as Produced;
  return {
    apiVersion: 'eventops.dev/v1',
    kind: 'Pipeline',
    metadata: { name: plan.name, description: `Builds and rolls out ${plan.name}.`, labels: { team: pick(rng, TEAMS) } },
    spec: {
      inputs: plan.library
        ? [
            { name: 'image', type: 'string', required: true },
            { name: 'env', type: 'string', enum: ENVS, default: 'staging' },
            { name: 'replicas', type: 'integer', default: 2 },
          ]
        : [
            { name: 'sha', type: 'string', required: true, description: 'Commit to build.' },
            { name: 'env', type: 'string', enum: ENVS, default: 'staging' },
            { name: 'dryRun', type: 'boolean', default: false },
          ],
      contexts: [
        { name: 'image', type: 'string' },
        { name: 'version', type: 'string', default: 'unknown' },
      ],
      actuatorSelector: { tags: [...pick(rng, TAG_SETS)] },
      timeout: pick(rng, ['30m', '1h', '1h30m']),
      concurrency: { group: `${plan.name}-\${{ inputs.env }}`, cancelInProgress: rng() < 0.3 },
      tasks,
      finally: [
        {
          name: 'notify',
          type: 'local',
          commands: ['echo "pipeline finished: ${{ run.status }}"'],
          env: { BUILD_STATUS: `\${{ tasks.${head.anchor}.status }}`, RUN_ID: '${{ run.id }}' },
        },
      ],
      outputs: plan.library
        ? [{ name: 'url', value: `https://\${{ inputs.env }}.example.com/\${{ tasks.${last.name}.outputs.${last.output} }}` }]
        : [
            { name: 'image', value: '${{ contexts.image }}' },
            { name: 'revision', value: '${{ tasks.checkout.outputs.revision }}' },
          ],
    },
  };
}

interface Head {
  tasks: Task[];
  produced: Produced[];
  /** The task every later task depends on (transitively). */
  anchor: string;
}

function appHead(): Head {
  const checkout: Task = {
    name: 'checkout',
    type: 'local',
    commands: ['git fetch --depth 1 origin "$SHA"', 'git checkout "$SHA"', 'echo "REV=$(git rev-parse --short HEAD)" >> "$EVENTOPS_ENV"'],
    env: { SHA: '${{ inputs.sha }}' },
    outputs: [{ name: 'revision', fromEnv: 'REV', setToContext: 'version' }],
  };
  const build: Task = {
    name: 'build',
    type: 'docker',
    needs: ['checkout'],
    image: 'node:20',
    commands: ['npm ci', 'npm run build', 'echo "IMAGE=registry.example.com/app:$VERSION" >> "$EVENTOPS_ENV"'],
    env: { SHA: '${{ inputs.sha }}', VERSION: '${{ contexts.version }}' },
    outputs: [
      { name: 'image', fromEnv: 'IMAGE', setToContext: 'image' },
      { name: 'report', fromFile: 'out/report.json' },
    ],
    timeout: '10m',
    retries: { limit: 2, backoff: '10s' },
  };
  return { tasks: [checkout, build], produced: [{ name: 'checkout', output: 'revision' }, { name: 'build', output: 'image' }], anchor: 'checkout' };
}

function libraryHead(): Head {
  const pull: Task = {
    name: 'pull',
    type: 'local',
    commands: ['docker pull "$IMAGE"', 'echo "DIGEST=$(docker inspect --format "{{.Id}}" "$IMAGE")" >> "$EVENTOPS_ENV"'],
    env: { IMAGE: '${{ inputs.image }}' },
    outputs: [
      { name: 'digest', fromEnv: 'DIGEST', setToContext: 'version' },
      { name: 'image', value: '${{ inputs.image }}', setToContext: 'image' },
    ],
  };
  const promote: Task = {
    name: 'promote',
    type: 'kubernetes',
    needs: ['pull'],
    image: 'bitnami/kubectl:1.30',
    commands: ['kubectl set image deploy/app app="$IMAGE"', 'kubectl rollout status deploy/app'],
    env: { IMAGE: '${{ contexts.image }}', REPLICAS: '${{ string(inputs.replicas) }}' },
    outputs: [{ name: 'revision', fromEnv: 'ROLLOUT_REVISION' }],
  };
  return { tasks: [pull, promote], produced: [{ name: 'pull', output: 'digest' }, { name: 'promote', output: 'revision' }], anchor: 'pull' };
}

const MIDDLE_KINDS = ['test', 'scan', 'lint', 'approve', 'call', 'deploy', 'smoke'] as const;
type MiddleKind = (typeof MIDDLE_KINDS)[number];

/** What a middle task can read: the anchor (upstream of every middle task) and its first need. */
interface Reads {
  k: number;
  anchor: Produced;
  upstream: Produced;
  rng: Rng;
  libraries: readonly PipelinePlan[];
}

/** Task k (≥ 2) needs one or two earlier tasks (never the first), so the second task is always upstream. */
function middleTask(k: number, rng: Rng, produced: readonly Produced[], libraries: readonly PipelinePlan[]): { task: Task; produced: Produced } {
  const kind = pick(rng, libraries.length > 0 ? MIDDLE_KINDS : MIDDLE_KINDS.filter((m) => m !== 'call'));
  const name = `${kind}-${k}`;
  const needed = [pick(rng, produced.slice(1))];
  if (rng() < 0.3) needed.push(pick(rng, produced.slice(1)));
  const body = middleBody(kind, { k, anchor: produced[1] as Produced, upstream: needed[0] as Produced, rng, libraries });
  const output = kind === 'approve' ? 'approvedBy' : kind === 'call' ? 'url' : 'result';
  return { task: { name, needs: [...new Set(needed.map((n) => n.name))], ...body }, produced: { name, output } };
}

const readOutput = (p: Produced): string => `\${{ tasks.${p.name}.outputs.${p.output} }}`;

function middleBody(kind: MiddleKind, r: Reads): Omit<Task, 'name' | 'needs'> {
  switch (kind) {
    case 'test':
      return {
        type: pick(r.rng, ['local', 'agent'] as const),
        commands: [`npm test -- --shard=${r.k}/8`, 'echo "$ARTIFACT" > out/tested.txt'],
        env: { ARTIFACT: readOutput(r.anchor), TARGET_ENV: '${{ inputs.env }}' },
        outputs: [{ name: 'result', fromFile: 'out/tested.txt' }],
      };
    case 'scan':
      return {
        type: 'kubernetes',
        image: 'aquasec/trivy:0.50.0',
        commands: ['trivy image --exit-code 1 "$IMAGE"'],
        env: { IMAGE: '${{ contexts.image }}' },
        outputs: [{ name: 'result', value: `scanned-\${{ tasks.${r.upstream.name}.status }}` }],
        timeout: '15m',
      };
    case 'lint':
      return {
        type: 'ssh',
        commands: ['make lint', 'echo "LINT_RESULT=ok" >> "$EVENTOPS_ENV"'],
        env: { UPSTREAM: readOutput(r.upstream) },
        outputs: [{ name: 'result', fromEnv: 'LINT_RESULT' }],
        actuatorSelector: { tags: ['linux', 'build'] },
      };
    case 'approve':
      return { type: 'approval', if: "${{ inputs.env == 'prod' }}", approvers: ['@acme/ops', '@acme/sre'] };
    case 'call':
      return {
        type: 'pipeline',
        pipeline: pick(r.rng, r.libraries).name,
        inputs: { image: readOutput(r.anchor), env: '${{ inputs.env }}', replicas: between(r.rng, 1, 5) },
      };
    case 'deploy':
      return {
        type: 'docker',
        if: "inputs.env != 'dev'",
        image: 'bitnami/kubectl:1.30',
        commands: ['kubectl apply -f deploy/', 'echo "DEPLOY_URL=https://$TARGET_ENV.example.com" >> "$EVENTOPS_ENV"'],
        env: { IMAGE: '${{ contexts.image }}', TARGET_ENV: '${{ inputs.env }}', UPSTREAM: readOutput(r.upstream) },
        outputs: [{ name: 'result', fromEnv: 'DEPLOY_URL' }],
        actuatorSelector: { tags: ['linux', 'deploy'] },
        retries: { limit: 1 },
      };
    case 'smoke':
      return {
        type: 'agent',
        if: `\${{ tasks.${r.upstream.name}.status == 'succeeded' }}`,
        commands: ['curl -fsS "$URL/healthz"'],
        env: { URL: readOutput(r.upstream) },
        outputs: [{ name: 'result', value: 'healthy' }],
      };
  }
}

function trigger(t: number, rng: Rng, target: string, also?: string): Trigger {
  const service = SERVICES[t % SERVICES.length] as string;
  const [event, sha] = triggerSource(t, rng, service);
  const pipelines = [{ name: target, inputs: { env: pick(rng, ENVS), sha } }];
  if (also) pipelines.push({ name: also, inputs: { env: '${{ event.labels.env }}', sha } });
  return {
    apiVersion: 'eventops.dev/v1',
    kind: 'Trigger',
    metadata: { name: `${service}-on-${t}`, labels: { team: TEAMS[t % TEAMS.length] as string } },
    spec: { ...event, pipelines, dedupeWindow: '10m' },
  };
}

/** The listening part of a trigger and the expression that supplies `sha`, by one of six styles. */
function triggerSource(t: number, rng: Rng, service: string): [Partial<Trigger['spec']>, string] {
  switch (t % 6) {
    case 0:
      return [
        {
          event: { source: 'github', type: 'push' },
          filters: [
            { path: 'body.ref', value: ['refs/heads/main', 'refs/heads/release'] },
            { path: 'body.repository.full_name', value: [`acme/${service}.*`], match: 'regex' },
            { expr: 'size(body.commits) > 0' },
          ],
          dedupe: '${{ event.body.after }}',
          report: { checks: true },
        },
        '${{ event.body.after }}',
      ];
    case 1:
      return [
        {
          event: { source: 'github', type: 'pull_request.opened' },
          filters: [{ path: 'body.pull_request.base.ref', value: 'main' }, { expr: 'body.pull_request.draft == false' }],
          report: { checks: true, comment: 'on-failure' },
        },
        '${{ event.body.pull_request.head.sha }}',
      ];
    case 2:
      return [
        { event: { source: 'api', type: 'deploy.requested', subject: `services.${service}` }, filters: [{ path: 'labels.env', value: ENVS }] },
        '${{ event.body.sha }}',
      ];
    case 3:
      return [{ event: { source: 'schedule' }, schedule: `${between(rng, 0, 59)} ${between(rng, 0, 23)} * * 1-5`, timezone: 'Europe/Berlin' }, 'main'];
    case 4:
      return [
        {
          event: { source: 'github', type: 'issue_comment.created' },
          command: '/deploy',
          permission: 'write',
          dedupe: '${{ event.body.comment.id }}',
          report: { comment: 'on-command' },
        },
        '${{ event.body.issue.pull_request.head.sha }}',
      ];
    default:
      if (rng() < 0.5) return [{ event: { source: 'nats', type: 'dev.eventops.status', subject: `ops.clusters.*.namespaces.${service}.>` } }, '${{ event.body.revision }}'];
      return [
        {
          event: { source: 'webhook/alertmanager' },
          filters: [{ path: 'body.status', value: 'firing' }, { expr: "body.alerts.exists(a, a.labels.severity == 'critical')" }],
        },
        '${{ event.body.commonLabels.revision }}',
      ];
  }
}

function event(e: number, rng: Rng): EventDefinition {
  const service = SERVICES[e % SERVICES.length] as string;
  return {
    apiVersion: 'eventops.dev/v1',
    kind: 'Event',
    type: 'deploy.requested',
    subject: `services.${service}`,
    labels: { env: pick(rng, ENVS) },
    body: { service, sha: hex(rng, 40), requestedBy: pick(rng, ['alice', 'bob', 'carol']), replicas: between(rng, 1, 6) },
  };
}

function folderOf(plan: FilePlan): string {
  const team = TEAMS[plan.index % TEAMS.length] as string;
  const service = SERVICES[Math.floor(plan.index / TEAMS.length) % SERVICES.length] as string;
  const sub = plan.kind === 'triggers' ? ['github', 'github', 'api', 'schedule', 'issueops', 'events'][plan.index % 6] : undefined;
  return join('teams', team, service, plan.kind, ...(sub ? [sub] : []));
}

/** The documents of one file; every 40th pipeline file also holds a trigger, every 10th event file three events. */
function documentsOf(plan: FilePlan, rng: Rng, pipelines: readonly PipelinePlan[], triggerTargets: readonly PipelinePlan[]): Document[] {
  const libraries = pipelines.filter((p) => p.library);
  switch (plan.kind) {
    case 'actuators':
      return [actuator(plan.index, rng)];
    case 'pipelines': {
      const own = pipelines[plan.index] as PipelinePlan;
      const docs: Document[] = [pipeline(own, rng, libraries)];
      if (plan.index % 40 === 1 && !own.library) docs.push(trigger(1_000_000 + plan.index, rng, own.name));
      return docs;
    }
    case 'triggers': {
      const also = plan.index % 7 === 0 ? pick(rng, triggerTargets).name : undefined;
      return [trigger(plan.index, rng, pick(rng, triggerTargets).name, also)];
    }
    case 'events':
      return Array.from({ length: plan.index % 10 === 0 ? 3 : 1 }, (_, i) => event(plan.index * 3 + i, rng));
  }
}

/** Writes a repository of `total` files under `dir`; returns how many documents it holds. */
export function generateRepository(dir: string, total: number): number {
  const rng = seeded(SEED + total);
  const files = planFiles(total);
  const pipelines = planPipelines(files.filter((f) => f.kind === 'pipelines').length);
  const libraries = pipelines.filter((p) => p.library);
  if (libraries.length === 0) throw new Error('a repository needs at least one library pipeline');
  const triggerTargets = pipelines.filter((p) => !p.library);
  let documents = 0;
  for (const plan of files) {
    const docs = documentsOf(plan, rng, pipelines, triggerTargets);
    documents += docs.length;
    const folder = join(dir, folderOf(plan));
    mkdirSync(folder, { recursive: true });
    const text = docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
    const header = '# yaml-language-server: $schema=https://eventops.dev/schemas/definition.schema.json\n';
    writeFileSync(join(folder, `${plan.kind}-${plan.index}.${plan.index % 9 === 0 ? 'yml' : 'yaml'}`), header + text);
  }
  return documents;
}
