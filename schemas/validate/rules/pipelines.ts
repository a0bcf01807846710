// The shape of a pipeline beyond its schema: unique task names, `needs` that exist and make
// no cycle, the fields each task type requires (a container task without `commands` runs its
// image as built, so what only commands give does not apply to it), contexts that exist, valid
// durations, and `pipeline` tasks that name a pipeline of the same repository with the inputs it needs.
import { ActuatorTypes, parseCpu, parseDuration, parseMemory, type Pipeline, type Task } from '../../language/index.js';
import type { Path } from '../../loader/parse-yaml.js';
import type { Rule, RuleContext } from '../context.js';
import type { Definition } from '../definition.js';
import { suggestion } from '../suggest.js';
import { checkInputValues, literalProblem } from './input-values.js';

type Group = 'tasks' | 'finally';

export const pipelineShape: Rule = (ctx) => {
  // Duplicate pipeline names are reported by uniqueNames; the shadowed ones are checked too.
  for (const def of ctx.definitions) if (def.kind === 'Pipeline' && ctx.checks(def)) checkPipeline(ctx, def as Definition<Pipeline>);
};

function checkPipeline(ctx: RuleContext, def: Definition<Pipeline>): void {
  const spec = def.value.spec;
  uniqueVariables(ctx, def, 'inputs', spec.inputs ?? []);
  uniqueVariables(ctx, def, 'contexts', spec.contexts ?? []);
  uniqueVariables(ctx, def, 'outputs', spec.outputs ?? []);
  (spec.inputs ?? []).forEach((input, i) => {
    if (input.default !== undefined) {
      const problem = literalProblem(input, input.default);
      if (problem) ctx.report(def, ['spec', 'inputs', i, 'default'], 'input-type', `the default of input \`${input.name}\` ${problem}`);
    }
    (input.enum ?? []).forEach((value, j) => {
      const problem = literalProblem({ ...input, enum: undefined }, value);
      if (problem) ctx.report(def, ['spec', 'inputs', i, 'enum', j], 'input-type', `an enum value of input \`${input.name}\` ${problem}`);
    });
  });
  duration(ctx, def, ['spec', 'timeout'], spec.timeout);
  const seen = new Map<string, Path>();
  const contexts = new Set((spec.contexts ?? []).map((c) => c.name));
  for (const group of ['tasks', 'finally'] as const) {
    const tasks = spec[group] ?? [];
    tasks.forEach((task, i) => {
      const path: Path = ['spec', group, i];
      const earlier = seen.get(task.name);
      if (earlier) {
        ctx.report(def, [...path, 'name'], 'task-unique-name', `task \`${task.name}\` is defined twice in this pipeline (also at line ${def.locate(earlier).line}); rename one`);
      } else {
        seen.set(task.name, [...path, 'name']);
      }
      taskFields(ctx, def, path, task, contexts);
    });
    checkNeeds(ctx, def, group, tasks);
  }
}

function uniqueVariables(ctx: RuleContext, def: Definition, key: string, list: { name: string }[]): void {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    if (seen.has(item.name)) ctx.report(def, ['spec', key, i, 'name'], 'duplicate-name', `\`${item.name}\` is declared twice in \`${key}\`; remove one`);
    seen.add(item.name);
  });
}

function duration(ctx: RuleContext, def: Definition, path: Path, value: string | undefined): void {
  if (value !== undefined && parseDuration(value) === undefined) {
    ctx.report(def, path, 'duration', `${JSON.stringify(value)} is not a duration; write a number and a unit, such as \`30s\`, \`10m\`, \`1h\` or \`1h30m\``);
  }
}

const RUNS_ON_ACTUATOR = new Set<string>(ActuatorTypes);

function taskFields(ctx: RuleContext, def: Definition<Pipeline>, path: Path, task: Task, contexts: Set<string>): void {
  const type = task.type ?? 'local';
  const misplaced = (field: keyof Task, why: string) => {
    if (task[field] !== undefined) ctx.report(def, [...path, field], 'task-fields', `\`${field}\` ${why}`, { at: 'key' });
  };
  const hasCommands = (task.commands?.length ?? 0) > 0;
  const inContainer = type === 'docker' || type === 'kubernetes' || (type === 'agent' && task.image !== undefined);
  // A container task without commands runs its image as built (its entrypoint and cmd); the others have nothing to run.
  if ((type === 'local' || type === 'ssh' || type === 'agent') && !hasCommands && !inContainer) {
    const hint = type === 'agent' ? ', or an `image` to run as built' : '';
    ctx.report(def, path, 'task-fields', `${type === 'agent' ? 'an' : 'a'} ${type} task needs \`commands\` (a list of shell commands)${hint}`);
  }
  const asBuilt = inContainer && !hasCommands;
  if (asBuilt) {
    for (const field of ['shell', 'workdir'] as const) {
      if (task[field] !== undefined) {
        // Harmless but ignored: a warning, so the author learns it has no effect.
        ctx.report(def, [...path, field], 'task-fields', `\`${field}\` does not apply: a task without \`commands\` runs its image as built (its own entrypoint, cmd and workdir); add \`commands\`, or remove \`${field}\``, { at: 'key', severity: 'warning' });
      }
    }
  }
  if ((type === 'docker' || type === 'kubernetes') && !task.image) {
    ctx.report(def, path, 'task-fields', `a ${type} task needs an \`image\`, e.g. \`image: node:20\``);
  }
  if (type === 'local' || type === 'ssh') {
    const hint = task.type === undefined ? ' (the default type); add `type: docker` or `type: kubernetes` to run in a container' : '';
    misplaced('image', `applies to docker, kubernetes and agent tasks, not to a ${type} task${hint}`);
  }
  if (!inContainer) misplaced('resources', `applies to tasks that run in a container (docker, kubernetes, an agent task with an \`image\`), not to a ${type} task`);
  if (task.resources?.cpu !== undefined && parseCpu(task.resources.cpu) === undefined) {
    ctx.report(def, [...path, 'resources', 'cpu'], 'task-fields', `${JSON.stringify(task.resources.cpu)} is not a CPU quantity; write cores (\`0.5\`, \`2\`) or millicores (\`500m\`)`);
  }
  if (task.resources?.memory !== undefined && parseMemory(task.resources.memory) === undefined) {
    ctx.report(def, [...path, 'resources', 'memory'], 'task-fields', `${JSON.stringify(task.resources.memory)} is not a memory quantity; write bytes with a suffix, such as \`512Mi\`, \`1Gi\` or \`500M\``);
  }
  if (type === 'pipeline') {
    if (!task.pipeline) ctx.report(def, path, 'task-fields', 'a pipeline task needs `pipeline: NAME`, the pipeline to run');
    for (const f of ['commands', 'image', 'outputs'] as const) misplaced(f, 'does not apply to a pipeline task (its outputs are the called pipeline\'s outputs)');
  } else {
    misplaced('pipeline', 'applies only to tasks of `type: pipeline`');
    misplaced('inputs', 'applies only to tasks of `type: pipeline`; pass values to commands with `env`');
  }
  if (type === 'approval') {
    for (const f of ['commands', 'image', 'outputs', 'env'] as const) misplaced(f, 'does not apply to an approval task');
  } else {
    misplaced('approvers', 'applies only to tasks of `type: approval`');
  }
  if (!RUNS_ON_ACTUATOR.has(type)) misplaced('actuatorSelector', `does not apply to a ${type} task, which runs on no actuator`);
  duration(ctx, def, [...path, 'timeout'], task.timeout);
  duration(ctx, def, [...path, 'retries', 'backoff'], task.retries?.backoff);
  const outputNames = new Set<string>();
  (task.outputs ?? []).forEach((output, j) => {
    const at: Path = [...path, 'outputs', j];
    if (outputNames.has(output.name)) ctx.report(def, [...at, 'name'], 'duplicate-name', `output \`${output.name}\` is declared twice in task \`${task.name}\``);
    outputNames.add(output.name);
    const sources = (['fromEnv', 'fromFile', 'value'] as const).filter((k) => output[k] !== undefined);
    // None of them: the task writes `name=value` to the file in $EVENTOPS_OUTPUT.
    if (sources.length > 1) {
      ctx.report(def, at, 'output-source', `output \`${output.name}\` takes one of \`fromEnv\`, \`fromFile\` or \`value\`, not ${sources.join(' and ')}`);
    }
    if (asBuilt) {
      for (const field of ['fromEnv', 'fromFile'] as const) {
        if (output[field] !== undefined) {
          ctx.report(def, [...at, field], 'output-source', `output \`${output.name}\`: \`${field}\` needs \`commands\`; a task without \`commands\` runs its image as built; its outputs come only from \`name=value\` lines written to \`$EVENTOPS_OUTPUT\``, { at: 'key' });
        }
      }
    }
    if (output.setToContext !== undefined && !contexts.has(output.setToContext)) {
      ctx.report(
        def,
        [...at, 'setToContext'],
        'context-unknown',
        `\`setToContext: ${output.setToContext}\` names no context of this pipeline; declare it under \`spec.contexts\`${suggestion(output.setToContext, [...contexts])}`,
      );
    }
  });
  if (type === 'pipeline' && task.pipeline) {
    const target = ctx.pipelines.get(task.pipeline);
    if (!target) {
      if (!ctx.invalidNames.has(`Pipeline/${task.pipeline}`)) {
        ctx.report(def, [...path, 'pipeline'], 'pipeline-unknown', `no pipeline \`${task.pipeline}\` in this repository${suggestion(task.pipeline, [...ctx.pipelines.keys()])}`);
      }
    } else {
      checkInputValues(ctx, def, [...path, 'inputs'], task.inputs, target);
    }
  }
}

function checkNeeds(ctx: RuleContext, def: Definition<Pipeline>, group: Group, tasks: Task[]): void {
  const names = tasks.map((t) => t.name);
  const other = group === 'tasks' ? (def.value.spec.finally ?? []) : def.value.spec.tasks;
  tasks.forEach((task, i) => {
    (task.needs ?? []).forEach((need, j) => {
      if (names.includes(need) && need !== task.name) return;
      const at: Path = ['spec', group, i, 'needs', j];
      let message: string;
      if (need === task.name) message = `task \`${task.name}\` cannot need itself`;
      else if (other.some((t) => t.name === need)) {
        message = group === 'tasks' ? `\`${need}\` is a finally task; main tasks cannot wait for finally tasks` : `finally tasks run after all main tasks; \`needs\` may only name other finally tasks, not \`${need}\``;
      } else message = `\`needs\` names \`${need}\`, but this pipeline has no such task${suggestion(need, names)}`;
      ctx.report(def, at, 'needs-unknown', message);
    });
  });
  const cycle = findCycle(new Map(tasks.map((t) => [t.name, (t.needs ?? []).filter((n) => names.includes(n) && n !== t.name)])));
  if (cycle) {
    const first = tasks.findIndex((t) => t.name === cycle[0]);
    ctx.report(def, ['spec', group, first, 'needs'], 'needs-cycle', `\`needs\` form a cycle: ${cycle.join(' → ')}; remove one of these needs`);
  }
}

/** A cycle in a graph given as node → successors, as a path that returns to its start; undefined when acyclic. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === 'visiting') return [...stack.slice(stack.indexOf(next)), next];
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

/** A pipeline that (through pipeline tasks) runs itself would never end. Looks at the whole set. */
export const pipelineCycles: Rule = (ctx) => {
  const graph = new Map<string, string[]>();
  for (const [name, def] of ctx.pipelines) {
    const spec = def.value.spec;
    graph.set(name, [...spec.tasks, ...(spec.finally ?? [])].filter((t) => t.type === 'pipeline' && t.pipeline && ctx.pipelines.has(t.pipeline)).map((t) => t.pipeline as string));
  }
  const cycle = findCycle(graph);
  if (!cycle) return;
  const def = ctx.pipelines.get(cycle[0] as string) as Definition<Pipeline>;
  const spec = def.value.spec;
  const group = spec.tasks.some((t) => t.pipeline === cycle[1]) ? 'tasks' : 'finally';
  const index = (spec[group] ?? []).findIndex((t) => t.pipeline === cycle[1]);
  ctx.report(def, ['spec', group, index, 'pipeline'], 'pipeline-cycle', `pipelines call each other in a cycle: ${cycle.join(' → ')}; a run would never end`);
};
