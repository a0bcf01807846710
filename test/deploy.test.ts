// The deployment files of deploy/ (docs/deployment.md) checked against eventops itself, with no
// network and no container runtime: every YAML parses; every eventops container runs roles that
// exist, with probes on /healthz and /readyz at the port its configuration gives, and only
// environment variables eventops reads; the configuration each one mounts loads with that
// environment; the api has 2 replicas behind a Service selecting only its pods; the Dockerfile
// has a build and a runtime stage, a numeric non-root user, the files eventops reads at run
// time and no secrets. With kubectl installed, the kustomization is rendered too.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig, type Config } from '../config/index.js';
import { ROLES } from '../cli/start-events.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const deploy = join(root, 'deploy');
const cwd = mkdtempSync(join(tmpdir(), 'eventops-deploy-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

type Doc = Record<string, unknown>;
type Env = Record<string, string>;

/** Every YAML file under deploy/, relative to the repository, with its documents. */
function yamlFiles(): { file: string; docs: Doc[] }[] {
  const out: { file: string; docs: Doc[] }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(entry.name)) {
        const docs = parseAllDocuments(readFileSync(full, 'utf8'), { merge: true });
        const list = Array.isArray(docs) ? docs : [docs];
        for (const doc of list) expect(doc.errors.map((e) => e.message), `${full}`).toEqual([]);
        out.push({ file: relative(root, full), docs: list.map((d) => d.toJS() as Doc).filter((d) => d !== null) });
      }
    }
  };
  walk(deploy);
  return out;
}

const files = yamlFiles();
const docsOf = (file: string): Doc[] => {
  const found = files.find((f) => f.file === file);
  if (!found) throw new Error(`${file} is missing`);
  return found.docs;
};

/** The environment variables eventops reads: the named ones of config/load-config.ts, its file, the CLI's; prefixes for the rest. */
const NAMED = (() => {
  const source = readFileSync(join(root, 'config/load-config.ts'), 'utf8');
  const block = /const NAMED_ENV[^{]*\{([\s\S]*?)\n\};/.exec(source)?.[1] ?? '';
  return new Set([...block.matchAll(/^\s*([A-Z_]+):/gm)].map((m) => m[1] as string));
})();
const KNOWN = new Set([...NAMED, 'EVENTOPS_CONFIG', 'EVENTOPS_TOKEN', 'EVENTOPS_SERVER']);
const PREFIXES = ['EVENTOPS_SECRET_', 'EVENTOPS__'];

/** One eventops container as the checks see it, from compose or from Kubernetes. */
interface Container {
  where: string;
  args: string[];
  env: Env;
  /** The file EVENTOPS_CONFIG names, in the repository. */
  configFile: string;
  /** Container paths that are mounted volumes, and whether each is writable. */
  mounts: Map<string, { writable: boolean }>;
  /** What the process is asked for, as [path, port] pairs: liveness, readiness, startup. */
  probes: { liveness?: [string, number]; readiness?: [string, number]; startup?: [string, number] };
}

/** `${VAR:-default}` as compose expands it with VAR unset. */
const composeValue = (text: string) => text.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

function composeContainers(): Container[] {
  const [compose] = docsOf('deploy/compose.yaml') as [{ services: Record<string, Doc> }];
  return Object.entries(compose.services)
    .filter(([, s]) => String(s.image ?? '').startsWith('eventops'))
    .map(([name, s]) => {
      const env = Object.fromEntries(Object.entries((s.environment ?? {}) as Record<string, unknown>).map(([k, v]) => [k, composeValue(String(v))]));
      const mounts = new Map<string, { writable: boolean }>();
      const hostOf = new Map<string, string>();
      for (const volume of (s.volumes ?? []) as string[]) {
        const [host, target, mode] = volume.split(':') as [string, string, string | undefined];
        mounts.set(target, { writable: mode !== 'ro' });
        if (host.startsWith('.')) hostOf.set(target, resolve(deploy, host));
      }
      const configPath = env.EVENTOPS_CONFIG ?? '';
      const configFile = hostOf.get(configPath) ?? '';
      const test = ((s.healthcheck as Doc | undefined)?.test ?? []) as string[];
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[a-z]+)/.exec(test.join(' '));
      return {
        where: `deploy/compose.yaml services.${name}`,
        args: (s.command ?? []) as string[],
        env,
        configFile,
        mounts,
        probes: url ? { readiness: [url[2] as string, Number(url[1])] } : {},
      } satisfies Container;
    });
}

const K8S = ['api.yaml', 'worker.yaml', 'reconciler.yaml'].map((f) => `deploy/kubernetes/${f}`);
const k8sDocs = () => K8S.flatMap((file) => docsOf(file).map((doc) => ({ file, doc })));
const deployments = () => k8sDocs().filter(({ doc }) => doc.kind === 'Deployment');
/** The example Secrets by name: their stringData. */
const exampleSecrets = () => new Map(docsOf('deploy/kubernetes/secret.example.yaml').map((d) => [(d.metadata as Doc).name as string, (d.stringData ?? {}) as Env]));
const kustomization = () => docsOf('deploy/kubernetes/kustomization.yaml')[0] as Doc & { resources: string[]; configMapGenerator: { name: string; files: string[] }[] };

interface PodSpec {
  containers: Doc[];
  volumes?: Doc[];
  securityContext?: Doc;
  terminationGracePeriodSeconds?: number;
}
const podOf = (deployment: Doc) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;

function kubernetesContainers(): Container[] {
  const secrets = exampleSecrets();
  const generated = new Map(kustomization().configMapGenerator.map((g) => [g.name, g.files]));
  return deployments().flatMap(({ file, doc }) => {
    const pod = podOf(doc);
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name as string, v]));
    return pod.containers
      .filter((c) => String(c.image).startsWith('eventops'))
      .map((c) => {
        const where = `${file} ${(doc.metadata as Doc).name as string}/${c.name as string}`;
        const env: Env = {};
        for (const e of (c.env ?? []) as { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]) {
          const ref = e.valueFrom?.secretKeyRef;
          const value = ref ? secrets.get(ref.name)?.[ref.key] : e.value;
          expect(value, `${where}: env ${e.name} (${ref ? `Secret ${ref.name} key ${ref.key}, in secret.example.yaml` : 'a value'})`).toBeTypeOf('string');
          env[e.name] = value as string;
        }
        const mounts = new Map<string, { writable: boolean }>();
        let configFile = '';
        for (const m of (c.volumeMounts ?? []) as { name: string; mountPath: string; readOnly?: boolean }[]) {
          const volume = volumes.get(m.name);
          expect(volume, `${where}: volumeMount ${m.name} has a volume`).toBeDefined();
          mounts.set(m.mountPath, { writable: !m.readOnly && volume?.emptyDir !== undefined });
          const map = (volume?.configMap as { name: string } | undefined)?.name;
          if (map && env.EVENTOPS_CONFIG?.startsWith(`${m.mountPath}/`)) {
            const key = posix.relative(m.mountPath, env.EVENTOPS_CONFIG);
            const sourceFile = generated.get(map)?.find((f) => posix.basename(f) === key);
            if (sourceFile) configFile = join(deploy, 'kubernetes', sourceFile);
          }
        }
        const ports = new Map(((c.ports ?? []) as { name?: string; containerPort: number }[]).map((p) => [p.name ?? String(p.containerPort), p.containerPort]));
        const probe = (name: string): [string, number] | undefined => {
          const get = (c[name] as { httpGet?: { path: string; port: string | number } } | undefined)?.httpGet;
          if (!get) return undefined;
          const port = typeof get.port === 'number' ? get.port : ports.get(get.port);
          expect(port, `${where}: ${name} port ${get.port} is a container port`).toBeTypeOf('number');
          return [get.path, port as number];
        };
        return {
          where,
          args: [...((c.command ?? []) as string[]), ...((c.args ?? []) as string[])],
          env,
          configFile,
          mounts,
          probes: { liveness: probe('livenessProbe'), readiness: probe('readinessProbe'), startup: probe('startupProbe') },
        } as Container;
      });
  });
}

/** The configuration `c` runs with: its mounted file, the image's ENV and its own environment (EVENTOPS_CONFIG is the file given). */
function configOf(c: Container): Config {
  expect(c.configFile, `${c.where}: EVENTOPS_CONFIG (${c.env.EVENTOPS_CONFIG}) names a file of deploy/ that is mounted there`).not.toBe('');
  expect(existsSync(c.configFile), c.configFile).toBe(true);
  const { EVENTOPS_CONFIG: _file, ...env } = { ...dockerfile().env, ...c.env };
  return loadConfig({ file: c.configFile, cwd, env });
}

/** `serve --role a,b`: the roles asked for (all when no --role). */
function rolesOf(c: Container): string[] {
  expect(c.args[0], `${c.where}: runs \`eventops serve\``).toBe('serve');
  const at = c.args.indexOf('--role');
  if (at < 0) return [...ROLES];
  return (c.args[at + 1] ?? '').split(',').map((r) => r.trim());
}

const everyContainer = () => [...composeContainers(), ...kubernetesContainers()];

describe('deploy/ YAML files', () => {
  it('all parse, and the ones the other checks read are there', () => {
    const names = files.map((f) => f.file);
    expect(names).toEqual(expect.arrayContaining(['deploy/compose.yaml', 'deploy/eventops.yaml', ...K8S, 'deploy/kubernetes/kustomization.yaml', 'deploy/kubernetes/eventops.yaml', 'deploy/kubernetes/secret.example.yaml']));
    expect(composeContainers().map((c) => c.where)).toHaveLength(3);
    expect(kubernetesContainers()).toHaveLength(3);
  });

  it('runs only roles that exist, and every role somewhere, in compose and in Kubernetes', () => {
    for (const containers of [composeContainers(), kubernetesContainers()]) {
      const seen = new Set<string>();
      for (const c of containers) {
        for (const role of rolesOf(c)) {
          expect(ROLES, `${c.where}: --role ${role}`).toContain(role);
          seen.add(role);
        }
      }
      expect([...seen].sort()).toEqual([...ROLES].sort());
    }
  });

  it('sets only environment variables that eventops reads', () => {
    expect(NAMED).toContain('DATABASE_URL'); // the list was found in config/load-config.ts
    expect(NAMED).toContain('PORT');
    for (const c of everyContainer()) {
      for (const name of Object.keys(c.env)) {
        expect(KNOWN.has(name) || PREFIXES.some((p) => name.startsWith(p)), `${c.where}: environment variable ${name} is not read by eventops`).toBe(true);
      }
    }
  });

  it('gives every eventops container a configuration that loads, with PostgreSQL, Redis and a writable data folder', () => {
    for (const c of everyContainer()) {
      const config = configOf(c);
      expect(config.databaseUrl, `${c.where}: DATABASE_URL`).toMatch(/^postgres(ql)?:\/\//);
      expect(config.redisUrl, `${c.where}: REDIS_URL`).toMatch(/^rediss?:\/\//);
      expect(config.sources.length, `${c.where}: sources`).toBeGreaterThan(0);
      // The data folder: the image's (made for its user; compose keeps the container's own
      // filesystem writable) or a writable volume (Kubernetes: the root filesystem is read-only).
      const image = dockerfile().env.EVENTOPS_DATA_DIR;
      if (config.dataDir !== image || c.where.startsWith('deploy/kubernetes')) {
        expect(c.mounts.get(config.dataDir)?.writable, `${c.where}: the data folder ${config.dataDir} is a writable volume`).toBe(true);
      }
      // Local sources: mounted, or shipped in the image's /app.
      for (const source of config.sources.filter((s) => s.type === 'local')) {
        const path = source.path as string;
        const mounted = [...c.mounts.keys()].some((m) => path === m || path.startsWith(`${m}/`));
        expect(mounted || dockerfile().copied.some((to) => path === to || path.startsWith(`${to}/`)), `${c.where}: source ${source.name} at ${path} is mounted or in the image`).toBe(true);
      }
      if (config.secretsDir) expect(c.mounts.has(config.secretsDir), `${c.where}: secrets.dir ${config.secretsDir} is mounted`).toBe(true);
    }
  });

  it('probes /healthz for liveness and /readyz for readiness, on the port the configuration listens on', () => {
    for (const c of everyContainer()) {
      const port = configOf(c).server.port;
      expect(c.probes.readiness, `${c.where}: readiness`).toEqual(['/readyz', port]);
      if (c.where.startsWith('deploy/kubernetes')) {
        expect(c.probes.liveness, `${c.where}: liveness`).toEqual(['/healthz', port]);
        expect(c.probes.startup, `${c.where}: startup`).toEqual(['/healthz', port]);
      }
    }
  });

  it('waits for a stopping process longer than its shutdown delay and task timeout', () => {
    const needed = (c: Container) => {
      const config = configOf(c);
      const delay = 'shutdownDelayMs' in config.server ? Number(config.server.shutdownDelayMs) : 2_000;
      const tasks = 'shutdownTimeoutMs' in config.runs ? Number(config.runs.shutdownTimeoutMs) : 30_000;
      return (delay + tasks) / 1000 + 10;
    };
    const [compose] = docsOf('deploy/compose.yaml') as [{ services: Record<string, Doc> }];
    for (const c of composeContainers()) {
      const service = compose.services[c.where.split('services.')[1] as string] as Doc;
      const grace = /^(\d+)s$/.exec(String(service.stop_grace_period));
      expect(Number(grace?.[1]), `${c.where}: stop_grace_period`).toBeGreaterThanOrEqual(needed(c));
    }
    for (const { doc } of deployments()) {
      const c = kubernetesContainers().find((k) => k.where.includes(` ${(doc.metadata as Doc).name as string}/`)) as Container;
      expect(podOf(doc).terminationGracePeriodSeconds, `${c.where}: terminationGracePeriodSeconds`).toBeGreaterThanOrEqual(needed(c));
    }
  });
});

describe('deploy/kubernetes', () => {
  const labels = (doc: Doc) => ((doc.spec as { template: { metadata: { labels: Env } } }).template.metadata.labels);
  const selects = (selector: Env, of: Env) => Object.entries(selector).every(([k, v]) => of[k] === v);

  it('runs the api with 2 replicas behind a Service that selects its pods and no others', () => {
    const all = deployments().map(({ doc }) => doc);
    const api = all.find((d) => podOf(d).containers.some((c) => ((c.args ?? []) as string[]).join(' ').includes('--role api')));
    expect(api, 'a Deployment with --role api').toBeDefined();
    expect((api?.spec as Doc).replicas).toBe(2);
    for (const d of all) expect(selects((d.spec as { selector: { matchLabels: Env } }).selector.matchLabels, labels(d)), `${(d.metadata as Doc).name as string}: its selector matches its pods`).toBe(true);
    const services = k8sDocs().filter(({ doc }) => doc.kind === 'Service').map(({ doc }) => doc);
    const service = services.find((s) => selects((s.spec as { selector: Env }).selector, labels(api as Doc)));
    expect(service, 'a Service selecting the api pods').toBeDefined();
    const selector = (service?.spec as { selector: Env }).selector;
    for (const d of all.filter((d) => d !== api)) expect(selects(selector, labels(d)), `the Service must not select ${(d.metadata as Doc).name as string}`).toBe(false);
    const names = podOf(api as Doc).containers.flatMap((c) => ((c.ports ?? []) as { name?: string; containerPort: number }[]).flatMap((p) => [p.name, p.containerPort]));
    for (const port of (service?.spec as { ports: { targetPort: string | number }[] }).ports) expect(names, 'the Service targets a port of the api').toContain(port.targetPort);
  });

  it('runs the reconciler with 2 replicas and workers with at least 2', () => {
    const byRole = (role: string) => deployments().find(({ doc }) => podOf(doc).containers.some((c) => ((c.args ?? []) as string[]).join(' ').includes(`--role ${role}`)))?.doc;
    expect((byRole('reconciler')?.spec as Doc).replicas).toBe(2);
    expect((byRole('worker')?.spec as Doc).replicas).toBeGreaterThanOrEqual(2);
  });

  it('runs as the image user, non-root, with a read-only root filesystem and no capabilities', () => {
    const uid = dockerfile().uid;
    for (const { doc } of deployments()) {
      const pod = podOf(doc);
      const name = (doc.metadata as Doc).name as string;
      expect(pod.securityContext, name).toMatchObject({ runAsNonRoot: true, runAsUser: uid });
      for (const c of pod.containers) {
        expect(c.securityContext, `${name}/${c.name as string}`).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources, `${name}/${c.name as string}: resources`).toMatchObject({ requests: { cpu: expect.any(String), memory: expect.any(String) }, limits: { memory: expect.any(String) } });
      }
    }
  });

  it('keeps the example Secret out of the kustomization, with placeholders only', () => {
    const k = kustomization();
    expect(k.resources).not.toContain('secret.example.yaml');
    for (const [name, data] of exampleSecrets()) {
      for (const [key, value] of Object.entries(data)) expect(value, `${name}.${key}`).toContain('CHANGE-ME');
    }
    for (const file of [...k.resources, ...k.configMapGenerator.flatMap((g) => g.files)]) expect(existsSync(join(deploy, 'kubernetes', file)), file).toBe(true);
  });

  it('gives the workers, in the optional component, the RBAC the Kubernetes runner says it needs', () => {
    const header = readFileSync(join(root, 'runners/kubernetes-runner.ts'), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join(' ');
    const needs = /RBAC needed in the namespace: (.*?\))\./.exec(header)?.[1] ?? '';
    const wanted = [...needs.matchAll(/([a-z/]+) \(([^)]+)\)/g)].map((m) => [m[1] as string, (m[2] as string).split(',').map((v) => v.trim()).sort()] as const);
    expect(wanted.map(([r]) => r)).toEqual(expect.arrayContaining(['secrets', 'jobs', 'pods', 'pods/log', 'events']));
    const [role, binding] = docsOf('deploy/kubernetes/kubernetes-tasks/rbac.yaml') as [Doc, Doc];
    const rules = role.rules as { resources: string[]; verbs: string[] }[];
    const granted = Object.fromEntries(rules.flatMap((r) => r.resources.map((res) => [res, [...r.verbs].sort()])));
    expect(granted).toEqual(Object.fromEntries(wanted));
    const worker = deployments().find(({ doc }) => podOf(doc).containers.some((c) => ((c.args ?? []) as string[]).includes('worker')))?.doc as Doc;
    expect((binding.subjects as Doc[])[0]?.name).toBe((podOf(worker) as PodSpec & { serviceAccountName: string }).serviceAccountName);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!kubectl)('renders with kubectl kustomize, with and without the kubernetes-tasks component', () => {
    const render = (dir: string): Doc[] => {
      const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      return parseAllDocuments(run.stdout).map((d) => d.toJS() as Doc);
    };
    const plain = render(join(deploy, 'kubernetes'));
    const map = plain.find((d) => d.kind === 'ConfigMap') as Doc;
    expect((map.metadata as Doc).name).toMatch(/^eventops-config-[a-z0-9]+$/);
    for (const d of plain.filter((d) => d.kind === 'Deployment')) {
      expect((d.metadata as Doc).namespace).toBe('eventops');
      expect(JSON.stringify(podOf(d).volumes)).toContain(`"name":"${(map.metadata as Doc).name as string}"`);
    }
    expect(plain.some((d) => d.kind === 'Role')).toBe(false);
    // The component enabled, in a copy of the kustomization.
    const dir = mkdtempSync(join(cwd, 'k-'));
    cpSync(join(deploy, 'kubernetes'), dir, { recursive: true });
    const original = readFileSync(join(dir, 'kustomization.yaml'), 'utf8');
    const enabled = original.replace('# components:\n#   - kubernetes-tasks', 'components:\n  - kubernetes-tasks');
    expect(enabled, 'kustomization.yaml has `components: [kubernetes-tasks]` commented out, to enable').not.toBe(original);
    writeFileSync(join(dir, 'kustomization.yaml'), enabled);
    const tasks = render(dir);
    expect(tasks.filter((d) => d.kind === 'Role' || d.kind === 'RoleBinding')).toHaveLength(2);
    const worker = tasks.find((d) => d.kind === 'Deployment' && (d.metadata as Doc).name === 'eventops-worker') as Doc;
    expect((podOf(worker) as PodSpec & { automountServiceAccountToken: boolean }).automountServiceAccountToken).toBe(true);
  });
});

/** What the checks need from deploy/Dockerfile: its stages, the runtime stage's user, ENV and copies. */
function dockerfile(): { stages: string[]; uid: number | undefined; env: Env; copied: string[]; lines: string[]; text: string } {
  const text = readFileSync(join(deploy, 'Dockerfile'), 'utf8');
  // Continuation lines joined, comments dropped.
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages = lines.filter((l) => /^FROM\s/i.test(l));
  const last = lines.slice(lines.lastIndexOf(stages[stages.length - 1] as string));
  const user = last.filter((l) => /^USER\s/i.test(l)).pop()?.split(/\s+/)[1]?.split(':')[0];
  const env: Env = {};
  for (const l of last.filter((l) => /^ENV\s/i.test(l))) for (const m of l.slice(4).matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1] as string] = m[2] as string;
  const workdir = last.filter((l) => /^WORKDIR\s/i.test(l)).pop()?.split(/\s+/)[1] ?? '/';
  const copied = last.filter((l) => /^COPY\s/i.test(l)).map((l) => posix.resolve(workdir, l.split(/\s+/).pop() as string));
  return { stages, uid: user && /^\d+$/.test(user) ? Number(user) : undefined, env, copied, lines, text };
}

describe('deploy/Dockerfile', () => {
  const d = dockerfile();

  it('builds in one stage and runs from another, as a numeric non-root user', () => {
    expect(d.stages.length).toBeGreaterThanOrEqual(2);
    expect(d.uid, 'USER of the runtime stage, numeric').toBeTypeOf('number');
    expect(d.uid).toBeGreaterThan(0);
    expect(d.text).toMatch(/npm ci/);
    expect(d.text).toMatch(/npm prune --omit=dev|npm ci --omit=dev/);
  });

  it('copies what eventops reads at run time, and runs it under an init', () => {
    // Read beside dist/ through import.meta.url: migrations, the dashboard, the starter definitions.
    for (const path of ['/app/package.json', '/app/node_modules', '/app/dist', '/app/bin', '/app/schemas/database/migrations', '/app/webhooks/dashboard/static', '/app/definitions-template']) {
      expect(d.copied, path).toContain(path);
    }
    const entry = d.lines.find((l) => /^ENTRYPOINT\s/i.test(l)) ?? '';
    expect(JSON.parse(entry.slice('ENTRYPOINT'.length))).toEqual(['tini', '--', 'node', '/app/bin/eventops.js']);
    expect(d.lines).toContain('CMD ["serve"]');
    expect(d.lines).toContain(`EXPOSE ${loadConfig({ cwd, env: {} }).server.port}`);
    expect(d.env.EVENTOPS_DATA_DIR).toMatch(/^\//);
    expect(d.text, 'the data folder is made for the user').toContain(`-o ${d.uid} -g ${d.uid}`);
  });

  it('holds no secrets', () => {
    for (const l of d.lines.filter((l) => /^(ENV|ARG)\s/i.test(l))) expect(l, l).not.toMatch(/PASSWORD|TOKEN|SECRET|PRIVATE|_KEY\b/i);
    expect(d.text).not.toMatch(/eo_[A-Za-z0-9_-]{20,}|:\/\/[^/\s:@]+:[^/\s@]+@|BEGIN [A-Z ]*PRIVATE KEY/);
  });

  it('has a .dockerignore that leaves out local state and keeps every build input', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['.git', 'node_modules', 'dist', '.eventops', 'test-artifacts']));
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    for (const input of [...build.include, 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'definitions-template']) {
      expect(ignored, `${input} is needed by the build`).not.toContain(input);
      expect(existsSync(join(root, input)), input).toBe(true);
    }
  });
});
