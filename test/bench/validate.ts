// Benchmark of `eventops validate`: generates valid repositories of 1,000 and 10,000 files, then
// measures in-process validation and the end-to-end CLI, each run in a fresh child process (wall
// time, peak RSS; one warm-up run excluded), prints a table against the targets and writes JSON.
// `--keep` leaves the generated repositories in the temp folder, for profiling.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import {
  formatDiagnostic,
  readDefinitionFiles,
  validateFiles,
  type Actuator,
  type Event as EventDefinition,
  type Pipeline,
  type Task,
  type Trigger,
} from '../../schemas/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEED = 20240611;
const SIZES = [
  { files: 1_000, repeats: 5 },
  { files: 10_000, repeats: 3 },
] as const;
const TARGET = { filesPerSecond: 2_000, peakRssMb: 300, atFiles: 10_000 } as const;

// ---------------------------------------------------------------------------------------------
// Repository generation (deterministic: a seeded PRNG)

type Rng = () => number;
type Document = Actuator | Pipeline | Trigger | EventDefinition;

/** mulberry32: small, fast and good enough to vary generated definitions reproducibly. */
function seeded(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)] as T;
const between = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const hex = (rng: Rng, length: number): string => Array.from({ length }, () => Math.floor(rng() * 16).toString(16)).join('');

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
function generateRepository(dir: string, total: number): number {
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

// ---------------------------------------------------------------------------------------------
// Measurement

interface Sample {
  wallMs: number;
  peakRssMb: number;
  /** In-process only: the two halves of wallMs. */
  readMs?: number;
  validateMs?: number;
}

interface ChildReport {
  files: number;
  definitions: number;
  errors: number;
  warnings: number;
  readMs: number;
  validateMs: number;
  maxRssKb: number;
}

/** Runs in a fresh `node` on the compiled module (dist/), as the CLI does; prints one ChildReport. */
const IN_PROCESS_CHILD = `
const { readDefinitionFiles, validateFiles } = await import(process.argv[1]);
const dir = process.argv[2];
const t0 = performance.now();
const files = await readDefinitionFiles([dir], dir);
const t1 = performance.now();
const r = validateFiles(files);
const t2 = performance.now();
process.stdout.write(JSON.stringify({ files: files.length, definitions: r.definitions.length, errors: r.errors, warnings: r.warnings,
  readMs: t1 - t0, validateMs: t2 - t1, maxRssKb: process.resourceUsage().maxRSS }));
`;

/** Peak RSS of a child: GNU time when present, else an exit hook preloaded into the child. */
const GNU_TIME = '/usr/bin/time';
const RSS_HOOK = `data:text/javascript,${encodeURIComponent("process.on('exit', () => process.stderr.write('\\nmaxrss:' + process.resourceUsage().maxRSS + '\\n'))")}`;
const rssSource = existsSync(GNU_TIME) ? 'gnu-time %M' : 'process.resourceUsage().maxRSS (preloaded exit hook)';

function run(command: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string; wallMs: number } {
  const start = process.hrtime.bigint();
  const child = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (child.error) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, wallMs };
}

function inProcessSample(dir: string): Sample {
  const entry = pathToFileURL(join(ROOT, 'dist/schemas/index.js')).href;
  const child = run(process.execPath, ['--input-type=module', '-e', IN_PROCESS_CHILD, entry, dir]);
  if (child.status !== 0) throw new Error(`in-process child failed (exit ${child.status}):\n${child.stderr}`);
  const report = JSON.parse(child.stdout) as ChildReport;
  if (report.errors > 0) throw new Error(`the in-process child found ${report.errors} error(s) in ${dir}`);
  return { wallMs: report.readMs + report.validateMs, readMs: report.readMs, validateMs: report.validateMs, peakRssMb: report.maxRssKb / 1024 };
}

function cliSample(dir: string): Sample {
  const cli = [join(ROOT, 'bin/eventops.js'), 'validate', dir];
  const child = existsSync(GNU_TIME)
    ? run(GNU_TIME, ['-f', 'maxrss:%M', process.execPath, ...cli])
    : run(process.execPath, ['--import', RSS_HOOK, ...cli]);
  if (child.status !== 0) throw new Error(`\`eventops validate\` exited ${child.status}:\n${child.stdout.slice(-2000)}${child.stderr.slice(-2000)}`);
  const rss = /maxrss:(\d+)\s*$/.exec(child.stderr);
  if (!rss) throw new Error(`no peak RSS in the CLI's stderr:\n${child.stderr.slice(-2000)}`);
  return { wallMs: child.wallMs, peakRssMb: Number(rss[1]) / 1024 };
}

/** One unmeasured warm-up run (file cache, disk), then `repeats` measured ones, each a fresh process. */
function measure(label: string, repeats: number, sample: () => Sample): Sample[] {
  process.stdout.write(`  ${label}: warm-up ${Math.round(sample().wallMs)}ms (excluded); samples:`);
  const samples: Sample[] = [];
  for (let i = 0; i < repeats; i++) {
    samples.push(sample());
    process.stdout.write(` ${Math.round((samples[i] as Sample).wallMs)}ms`);
  }
  process.stdout.write('\n');
  return samples;
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

// ---------------------------------------------------------------------------------------------
// Verification, report and results

/** Fails loudly when the generated repository is not valid: a benchmark of error paths would mislead. */
async function verify(dir: string): Promise<{ files: number; definitions: number; warnings: number }> {
  const result = validateFiles(await readDefinitionFiles([dir], dir));
  if (result.errors > 0) {
    const shown = result.diagnostics.filter((d) => d.severity === 'error').slice(0, 20);
    throw new Error(`the generated repository has ${result.errors} error(s); first ones:\n${shown.map(formatDiagnostic).join('\n')}`);
  }
  const files = new Set(result.definitions.map((d) => d.file)).size;
  return { files, definitions: result.definitions.length, warnings: result.warnings };
}

interface SizeResult {
  files: number;
  definitions: number;
  warnings: number;
  repeats: number;
  inProcess: Sample[];
  cli: Sample[];
}

interface Row {
  mode: string;
  files: number;
  samples: Sample[];
}

function tableRows(results: readonly SizeResult[]): Row[] {
  return results.flatMap((r) => [
    { mode: 'in-process', files: r.files, samples: r.inProcess },
    { mode: 'cli', files: r.files, samples: r.cli },
  ]);
}

function printTable(rows: readonly Row[]): void {
  const header = ['mode', 'files', 'files/s', 'wall ms median (min–max)', 'peak RSS MB', 'vs 2,000 files/s', 'vs 300 MB', 'verdict'];
  const lines = rows.map((row) => {
    const wall = spread(row.samples.map((s) => s.wallMs));
    const peak = Math.max(...row.samples.map((s) => s.peakRssMb));
    const rate = row.files / (wall.median / 1000);
    const judged = row.files === TARGET.atFiles;
    const verdict = judged
      ? `${rate >= TARGET.filesPerSecond ? 'PASS' : 'MISS'} rate, ${peak < TARGET.peakRssMb ? 'PASS' : 'MISS'} memory`
      : '(targets are for 10,000 files)';
    return [
      row.mode,
      row.files.toLocaleString('en-US'),
      Math.round(rate).toLocaleString('en-US'),
      `${Math.round(wall.median)} (${Math.round(wall.min)}–${Math.round(wall.max)})`,
      peak.toFixed(1),
      `${(rate / TARGET.filesPerSecond).toFixed(2)}×`,
      `${(peak / TARGET.peakRssMb).toFixed(2)}×`,
      verdict,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  console.log(`\n${format(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const line of lines) console.log(format(line));
}

function git(args: readonly string[]): string {
  return run('git', args).stdout.trim();
}

function packageVersion(name: string): string {
  const json = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return json.version;
}

function writeResults(results: readonly SizeResult[]): string {
  const timestamp = new Date().toISOString();
  const cpu = cpus();
  const summary = (samples: readonly Sample[], files: number) => {
    const wall = spread(samples.map((s) => s.wallMs));
    return { wallMs: wall, filesPerSecond: files / (wall.median / 1000), peakRssMb: spread(samples.map((s) => s.peakRssMb)) };
  };
  const body = {
    benchmark: 'validate',
    timestamp,
    commit: git(['rev-parse', 'HEAD']),
    dirty: git(['status', '--porcelain']) !== '',
    node: process.version,
    packages: Object.fromEntries(['yaml', 'ajv', '@marcbachmann/cel-js'].map((p) => [p, packageVersion(p)])),
    machine: {
      os: `${type()} ${release()}`,
      arch: arch(),
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
      loadAverage: loadavg(),
    },
    method: {
      seed: SEED,
      warmupRuns: 1,
      inProcess: 'readDefinitionFiles + validateFiles from dist/ in a fresh `node` per sample; wall time measured inside the child',
      cli: '`node bin/eventops.js validate DIR` per sample; wall time measured around the child, including Node start-up',
      peakRss: { inProcess: 'process.resourceUsage().maxRSS', cli: rssSource },
    },
    targets: TARGET,
    sizes: results.map((r) => ({
      ...r,
      summary: { inProcess: summary(r.inProcess, r.files), cli: summary(r.cli, r.files) },
    })),
  };
  const folder = join(ROOT, 'test/bench/results');
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `validate-${timestamp.replace(/[:.]/g, '-')}.json`);
  const rounded = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 10) / 10 : value);
  writeFileSync(path, `${JSON.stringify(body, rounded, 2)}\n`);
  return path;
}

async function benchmarkSize(base: string, files: number, repeats: number): Promise<SizeResult> {
  const dir = join(base, `repo-${files}`);
  console.log(`\n${files.toLocaleString('en-US')} files: generating in ${dir}`);
  generateRepository(dir, files);
  const checked = await verify(dir);
  if (checked.files !== files) throw new Error(`expected ${files} files with definitions, found ${checked.files}`);
  console.log(`  valid: ${checked.definitions} definitions, 0 errors, ${checked.warnings} warning(s)`);
  const inProcess = measure(`in-process ×${repeats}`, repeats, () => inProcessSample(dir));
  const cli = measure(`cli ×${repeats}`, repeats, () => cliSample(dir));
  return { files, definitions: checked.definitions, warnings: checked.warnings, repeats, inProcess, cli };
}

async function main(): Promise<void> {
  const only = process.argv.indexOf('--generate');
  if (only >= 0) {
    // `--generate DIR N`: only write a repository of N files, for profiling by hand.
    const [dir, n] = [process.argv[only + 1] as string, Number(process.argv[only + 2])];
    console.log(`wrote ${generateRepository(dir, n)} files to ${dir}`);
    return;
  }
  console.log('building dist/ (npm run build) so the CLI and the in-process child run the current sources');
  if (run('npm', ['run', 'build', '--silent']).status !== 0) throw new Error('npm run build failed');
  const base = mkdtempSync(join(tmpdir(), 'eventops-bench-'));
  try {
    const results: SizeResult[] = [];
    for (const size of SIZES) results.push(await benchmarkSize(base, size.files, size.repeats));
    printTable(tableRows(results));
    console.log(`\npeak RSS: ${rssSource} for the CLI, process.resourceUsage().maxRSS for in-process; each sample a fresh process`);
    console.log(`results: ${writeResults(results)}`);
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept the generated repositories in ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
