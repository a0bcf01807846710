// Converts original eventops files (actuatorDefinition, pipelineDefinition with `dag` and
// `alias`, triggerDefinition with gjson paths, events with name/version/values) to v1.
// The original's bugs are not carried over: filters filter and failed tasks fail the run.
import type { Path } from '../loader/parse-yaml.js';
import { gjsonToCel } from './gjson-path.js';
import { PathMap } from './path-map.js';
import type { LegacyConversion, LegacyFormat, LegacyProblem } from './types.js';

type Obj = Record<string, unknown>;
type SourceText = (path: Path) => string | undefined;

const API = 'eventops.dev/v1';
const TASK_TYPES: Record<string, string> = { os: 'ssh', k8s: 'kubernetes', docker: 'docker', pipeline: 'pipeline' };

/** Recognises the original formats by their distinctive keys. */
export function detectLegacy(value: Obj): LegacyFormat | undefined {
  if ('dag' in value || (Array.isArray(value.tasks) && value.tasks.some((t) => isObj(t) && 'alias' in t))) return 'pipelineDefinition';
  if ('eventName' in value || 'eventCreater' in value || 'eventVersion' in value) return 'triggerDefinition';
  if ('name' in value && ('os' in value || 'docker' in value || 'kubernetes' in value || 'tunnel' in value)) return 'actuatorDefinition';
  if ('name' in value && 'version' in value && ('values' in value || 'files' in value || 'labels' in value || 'timestamp' in value)) return 'event';
  return undefined;
}

/** Converts `value` of `format`; `sourceText` gives the text of scalars as written (`1.0`). */
export function convertLegacy(value: Obj, format: LegacyFormat, sourceText: SourceText = () => undefined): LegacyConversion {
  const state = { map: new PathMap(), problems: [] as LegacyProblem[], sourceText };
  const converters = { actuatorDefinition: actuator, pipelineDefinition: pipeline, triggerDefinition: trigger, event } as const;
  const { kind, value: converted } = converters[format](value, state);
  return { format, kind, value: converted, sourcePath: (p) => state.map.lookup(p), problems: state.problems };
}

interface State {
  map: PathMap;
  problems: LegacyProblem[];
  sourceText: SourceText;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function text(v: unknown, path: Path, state: State): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : (state.sourceText(path) ?? String(v));
}

function metadata(value: Obj, state: State): Obj {
  state.map.set(['metadata', 'name'], ['name']);
  state.map.set(['metadata'], ['name'], false);
  return { name: value.name };
}

/** A credential field: a `{ secret: NAME }` passes through; a literal value is refused (never copied). */
function secret(v: unknown, path: Path, state: State, what: string): Obj | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (isObj(v) && typeof v.secret === 'string') return { secret: v.secret };
  state.problems.push({
    path,
    rule: 'secret-literal',
    message: `${what} is written as a literal value; store it in the secret store and write \`{ secret: NAME }\` here instead (the value is never copied)`,
  });
  return undefined;
}

function actuator(value: Obj, state: State): { kind: 'Actuator'; value: Obj } {
  const spec: Obj = {};
  state.map.set(['spec'], [], false);
  if (value.tags !== undefined) {
    spec.tags = value.tags;
    state.map.set(['spec', 'tags'], ['tags']);
  }
  const os = value.os;
  if (isObj(os)) {
    const ssh: Obj = { host: os.ip, user: os.user };
    if (os.port !== undefined) ssh.port = Number(os.port);
    const password = secret(os.password, ['os', 'password'], state, '`os.password`');
    const key = secret(os.rsa, ['os', 'rsa'], state, '`os.rsa`');
    if (password) ssh.password = password;
    if (key) ssh.privateKey = key;
    spec.ssh = ssh;
    state.map.set(['spec', 'ssh'], ['os']);
    state.map.set(['spec', 'ssh', 'host'], ['os', 'ip']);
    state.map.set(['spec', 'ssh', 'privateKey'], ['os', 'rsa']);
  }
  const docker = value.docker;
  if (isObj(docker)) {
    const out: Obj = {};
    if (isObj(docker.ssh)) {
      out.host = `ssh://${String(docker.ssh.user ?? 'root')}@${String(docker.ssh.ip ?? '')}`;
      const password = secret(docker.ssh.password, ['docker', 'ssh', 'password'], state, '`docker.ssh.password`');
      const key = secret(docker.ssh.rsa, ['docker', 'ssh', 'rsa'], state, '`docker.ssh.rsa`');
      if (password || key) out.ssh = { ...(password ? { password } : {}), ...(key ? { privateKey: key } : {}) };
    } else if (docker.ip !== undefined) {
      out.host = `tcp://${String(docker.ip)}:${text(docker.port, ['docker', 'port'], state) ?? '2375'}`;
    }
    spec.docker = out;
    state.map.set(['spec', 'docker'], ['docker']);
  }
  const kube = value.kubernetes;
  if (isObj(kube)) {
    const kubeconfig = secret(kube.config, ['kubernetes', 'config'], state, 'the kubeconfig in `kubernetes.config`');
    spec.kubernetes = kubeconfig ? { kubeconfig } : {};
    state.map.set(['spec', 'kubernetes'], ['kubernetes']);
  }
  const tunnel = value.tunnel;
  if (isObj(tunnel)) {
    const token = secret(tunnel.clientToken, ['tunnel', 'clientToken'], state, '`tunnel.clientToken`');
    state.problems.push({
      path: ['tunnel'],
      severity: 'warning',
      rule: 'legacy-format',
      message: 'a tunnel actuator becomes an `agent` actuator: run `eventops agent` on that host; it dials out and runs the tasks itself',
    });
    for (const k of ['ssh', 'docker', 'kubernetes']) delete spec[k];
    spec.agent = { id: tunnel.clientId, ...(token ? { token } : {}) };
    state.map.set(['spec', 'agent'], ['tunnel']);
    state.map.set(['spec', 'agent', 'id'], ['tunnel', 'clientId']);
  }
  if (value.tls !== undefined) {
    state.problems.push({ path: ['tls'], severity: 'warning', rule: 'legacy-format', message: '`tls` is not converted; give the docker actuator `tls: { ca, cert, key }` as secret references' });
  }
  return { kind: 'Actuator', value: { apiVersion: API, kind: 'Actuator', metadata: metadata(value, state), spec } };
}

/** `${{ outputs.a.b }}` → `${{ tasks.a.outputs.b }}`; renamed outputs of pipeline tasks map to the callee's names. */
function rewriteExpressions(v: unknown, renames: Map<string, Map<string, string>>): unknown {
  if (typeof v === 'string') {
    return v.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, inner: string) => {
      const body = inner.replace(/(^|[^\w.])outputs\.([\w-]+)\.([\w-]+)/g, (_x, pre: string, task: string, out: string) => {
        const name = renames.get(task)?.get(out) ?? out;
        return `${pre}tasks.${task}.outputs.${name}`;
      });
      return `\${{${body}}}`;
    });
  }
  if (Array.isArray(v)) return v.map((x) => rewriteExpressions(x, renames));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewriteExpressions(x, renames)]));
  return v;
}

function variableType(t: unknown): string {
  return t === 'file' ? 'string' : 'string';
}

function pipeline(value: Obj, state: State): { kind: 'Pipeline'; value: Obj } {
  const spec: Obj = {};
  state.map.set(['spec'], [], false);
  if (isObj(value.actuatorSelector)) {
    spec.actuatorSelector = value.actuatorSelector;
    state.map.set(['spec', 'actuatorSelector'], ['actuatorSelector']);
  }
  for (const key of ['inputs', 'contexts'] as const) {
    const list = value[key];
    if (!Array.isArray(list)) continue;
    spec[key] = list.map((item, i) => {
      state.map.set(['spec', key, i], [key, i]);
      if (!isObj(item)) return item;
      if (item.type === 'file') {
        state.problems.push({ path: [key, i, 'type'], severity: 'warning', rule: 'legacy-format', message: `file ${key} become strings holding a path or URL; the original's object-store transfer is not carried over` });
      }
      return { name: item.name, type: variableType(item.type) };
    });
  }
  const needs = new Map<string, string[]>();
  if (Array.isArray(value.dag)) {
    value.dag.forEach((node, i) => {
      if (!isObj(node) || typeof node.name !== 'string') {
        state.problems.push({ path: ['dag', i], message: 'each `dag` entry needs a `name` that is the alias of a task' });
        return;
      }
      const list = Array.isArray(node.needs) ? node.needs.filter((n): n is string => typeof n === 'string' && n !== 'root') : [];
      needs.set(node.name, list);
    });
  }
  const tasks = Array.isArray(value.tasks) ? value.tasks : [];
  const aliases = new Set(tasks.filter(isObj).map((t) => t.alias));
  for (const [name] of needs) {
    if (!aliases.has(name)) {
      const i = (value.dag as unknown[]).findIndex((n) => isObj(n) && n.name === name);
      state.problems.push({ path: ['dag', i, 'name'], message: `the dag names \`${name}\`, but no task has \`alias: ${name}\`` });
    }
  }
  // Outputs of pipeline tasks renamed callee outputs; references go to the callee's names.
  const renames = new Map<string, Map<string, string>>();
  for (const t of tasks) {
    if (!isObj(t) || t.type !== 'pipeline' || !Array.isArray(t.outputs)) continue;
    renames.set(String(t.alias), new Map(t.outputs.filter(isObj).map((o) => [String(o.name), String(o.value)])));
  }
  spec.tasks = tasks.map((t, i) => {
    state.map.set(['spec', 'tasks', i], ['tasks', i]);
    if (!isObj(t)) return t;
    return convertTask(t, i, needs, renames, state);
  });
  if (Array.isArray(value.outputs)) {
    spec.outputs = rewriteExpressions(value.outputs, renames);
    state.map.set(['spec', 'outputs'], ['outputs']);
  }
  const meta = metadata(value, state);
  const version = text(value.version, ['version'], state);
  if (version !== undefined) meta.annotations = { 'eventops.dev/original-version': version };
  return { kind: 'Pipeline', value: { apiVersion: API, kind: 'Pipeline', metadata: meta, spec } };
}

function convertTask(t: Obj, i: number, needs: Map<string, string[]>, renames: Map<string, Map<string, string>>, state: State): Obj {
  const at = (...rest: (string | number)[]): Path => ['tasks', i, ...rest];
  const out: Obj = { name: t.alias };
  state.map.set(['spec', 'tasks', i, 'name'], at('alias'));
  const type = TASK_TYPES[String(t.type)];
  if (!type) state.problems.push({ path: at('type'), message: `unknown task type ${JSON.stringify(t.type)}; the original types are os, docker, k8s and pipeline` });
  out.type = type ?? t.type;
  const taskNeeds = needs.get(String(t.alias));
  if (taskNeeds && taskNeeds.length > 0) out.needs = taskNeeds;
  if (isObj(t.actuatorSelector)) out.actuatorSelector = t.actuatorSelector;
  if (type === 'pipeline') {
    const image = String(t.image ?? '');
    out.pipeline = image.replace(/^[^/]*\//, '').replace(/:.*$/, '');
    state.map.set(['spec', 'tasks', i, 'pipeline'], at('image'));
  } else if (t.image !== undefined) {
    out.image = t.image;
  }
  if (Array.isArray(t.commands)) out.commands = rewriteExpressions(t.commands, renames);
  if (Array.isArray(t.inputs)) {
    const inputs: Obj = {};
    t.inputs.forEach((input, j) => {
      if (!isObj(input)) return;
      inputs[String(input.name)] = rewriteExpressions(input.value, renames);
      state.map.set(['spec', 'tasks', i, 'inputs', String(input.name)], at('inputs', j, 'value'));
    });
    out.inputs = inputs;
  }
  if (Array.isArray(t.outputs) && type !== 'pipeline') {
    out.outputs = t.outputs.map((o, j) => {
      state.map.set(['spec', 'tasks', i, 'outputs', j], at('outputs', j));
      if (!isObj(o)) return o;
      const converted: Obj = { name: o.name };
      const source = String(o.value ?? '');
      if (o.type === 'file') converted.fromFile = source;
      else converted.fromEnv = source.replace(/^\$/, '');
      if (o.setToContext !== undefined) converted.setToContext = o.setToContext;
      return converted;
    });
  }
  if (t.timeout !== undefined) {
    out.timeout = typeof t.timeout === 'number' ? `${t.timeout}s` : t.timeout;
    state.map.set(['spec', 'tasks', i, 'timeout'], at('timeout'));
  }
  if (t.resources !== undefined) {
    state.problems.push({ path: at('resources'), severity: 'warning', rule: 'legacy-format', message: '`resources` is not converted; set limits on the actuator (container or Kubernetes defaults)' });
  }
  return out;
}

function trigger(value: Obj, state: State): { kind: 'Trigger'; value: Obj } {
  const spec: Obj = {};
  state.map.set(['spec'], [], false);
  spec.event = { source: 'api', type: value.eventName };
  state.map.set(['spec', 'event'], ['eventName']);
  const filters: Obj[] = [];
  const version = text(value.eventVersion, ['eventVersion'], state);
  if (version !== undefined) {
    state.map.set(['spec', 'filters', filters.length], ['eventVersion']);
    filters.push({ path: 'body.version', value: [version] });
  }
  const addFilters = (list: unknown, base: Path) => {
    if (!Array.isArray(list)) return;
    list.forEach((f, j) => {
      if (!isObj(f)) return;
      const path = String(f.expr ?? '');
      const converted = gjsonToCel(path, 'body');
      state.map.set(['spec', 'filters', filters.length], [...base, j]);
      if ('error' in converted) {
        state.problems.push({ path: [...base, j, 'expr'], message: converted.error });
        return;
      }
      const matches = Array.isArray(f.matches) ? f.matches.map((m, k) => text(m, [...base, j, 'matches', k], state)) : [];
      filters.push(/^[\w.-]+$/.test(path) ? { path: `body.${path}`, value: matches } : { expr: `${converted.cel} in ${JSON.stringify(matches)}` });
    });
  };
  addFilters(value.filters, ['filters']);
  const pipelines = Array.isArray(value.pipelines) ? value.pipelines : [];
  const withFilters = pipelines.filter((p) => isObj(p) && Array.isArray(p.filters) && p.filters.length > 0);
  if (withFilters.length > 0 && pipelines.length > 1) {
    const i = pipelines.indexOf(withFilters[0]);
    state.problems.push({ path: ['pipelines', i, 'filters'], message: 'filters on one of several pipelines have no v1 equivalent; split this trigger into one trigger per pipeline' });
  } else if (withFilters.length === 1) {
    addFilters((pipelines[0] as Obj).filters, ['pipelines', 0, 'filters']);
  }
  if (filters.length > 0) spec.filters = filters;
  spec.pipelines = pipelines.map((p, i) => {
    state.map.set(['spec', 'pipelines', i], ['pipelines', i]);
    if (!isObj(p)) return p;
    const out: Obj = { name: String(p.image ?? '').replace(/^[^/]*\//, '').replace(/:.*$/, '') };
    state.map.set(['spec', 'pipelines', i, 'name'], ['pipelines', i, 'image']);
    if (Array.isArray(p.inputs)) {
      const inputs: Obj = {};
      p.inputs.forEach((input, j) => {
        if (!isObj(input)) return;
        const converted = gjsonToCel(String(input.value ?? ''), 'event.body');
        state.map.set(['spec', 'pipelines', i, 'inputs', String(input.name)], ['pipelines', i, 'inputs', j, 'value']);
        if ('error' in converted) state.problems.push({ path: ['pipelines', i, 'inputs', j, 'value'], message: converted.error });
        else inputs[String(input.name)] = `\${{ ${converted.cel} }}`;
      });
      out.inputs = inputs;
    }
    return out;
  });
  if (value.eventCreater !== undefined) {
    state.problems.push({
      path: ['eventCreater'],
      severity: 'warning',
      rule: 'legacy-format',
      message: '`eventCreater` is dropped: in v1, API tokens decide who may send events',
    });
  }
  return { kind: 'Trigger', value: { apiVersion: API, kind: 'Trigger', metadata: metadata(value, state), spec } };
}

function event(value: Obj, state: State): { kind: 'Event'; value: Obj } {
  const body: Obj = { ...value };
  const version = text(value.version, ['version'], state);
  if (version !== undefined) body.version = version;
  state.map.set(['type'], ['name']);
  state.map.set(['body'], []);
  const out: Obj = { apiVersion: API, kind: 'Event', type: value.name, body };
  if (isObj(value.labels)) {
    out.labels = Object.fromEntries(Object.entries(value.labels).map(([k, v]) => [k, text(v, ['labels', k], state) ?? '']));
    state.map.set(['labels'], ['labels']);
  }
  return { kind: 'Event', value: out };
}
