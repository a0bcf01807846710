// Every `${{ }}` must parse and may only read what exists where it is written: declared
// inputs and contexts, tasks upstream of the task (through `needs`) and their declared
// outputs, and the event and run fields. Trigger filters are bare CEL over the event.
import {
  collectReferences,
  compileExpression,
  ExpressionSyntaxError,
  hasTemplate,
  parseTemplate,
  scopeVariables,
  soleExpression,
  TemplateSyntaxError,
  type Scope,
} from '../../expressions/index.js';
import type { Pipeline, Task, Trigger } from '../../language/index.js';
import type { Path } from '../../loader/parse-yaml.js';
import { templateStrings } from '../template-strings.js';
import type { Rule, RuleContext } from '../context.js';
import type { Definition } from '../definition.js';
import { suggestion } from '../suggest.js';

const EVENT_FIELDS = ['id', 'source', 'type', 'subject', 'labels', 'headers', 'body', 'time'];
const RUN_FIELDS = ['id', 'status', 'revision', 'source', 'pipeline', 'startedAt', 'url'];
const TASK_FIELDS = ['outputs', 'status'];
const APPROVAL_OUTPUTS = ['approvedBy', 'comment'];
/** Event fields that filter expressions must read through `event.` (`type` is also CEL's type function). */
const EVENT_ONLY = ['type', 'source', 'id', 'time'];

/** What an expression at one place may read. */
interface Site {
  scope: Scope;
  /** Variables allowed here (a subset of the scope's). */
  roots: readonly string[];
  /** Tasks whose results are visible here; undefined: none. */
  visibleTasks?: Set<string>;
  /** The task the expression belongs to, for messages. */
  task?: string;
  /** `if:` and filter `expr:` take a bare expression; `${{ }}` is optional. */
  bare?: boolean;
}

export const expressionReferences: Rule = (ctx) => {
  for (const def of ctx.definitions) {
    if (!ctx.checks(def)) continue;
    if (def.kind === 'Pipeline') checkPipeline(ctx, def as Definition<Pipeline>);
    if (def.kind === 'Trigger') checkTrigger(ctx, def as Definition<Trigger>);
    if (def.kind === 'Actuator') for (const [path, text] of templateStrings(def.value, [])) notEvaluated(ctx, def, path, text);
  }
};

/** `${{ }}` where nothing evaluates it would be taken literally: an error, not a surprise at run time. */
function notEvaluated(ctx: RuleContext, def: Definition, path: Path, text: string): void {
  if (hasTemplate(text) && !path.includes('description')) {
    ctx.report(def, path, 'expr-place', '`${{ }}` is not evaluated here, so it would be taken literally; use a literal value');
  }
}

function checkPipeline(ctx: RuleContext, def: Definition<Pipeline>): void {
  const spec = def.value.spec;
  const main = spec.tasks;
  const fin = spec.finally ?? [];
  const allTasks = new Set([...main, ...fin].map((t) => t.name));
  const everywhere = ['inputs', 'contexts', 'tasks', 'event', 'run', 'trigger'];
  const upstreamMain = upstream(main);
  const upstreamFinally = upstream(fin);
  const mainNames = main.map((t) => t.name);
  for (const [path, text] of templateStrings(spec, ['spec'])) {
    const [, group, index, field] = path as [string, string, number, string];
    let site: Site;
    if ((group === 'tasks' || group === 'finally') && typeof index === 'number') {
      const task = (group === 'tasks' ? main : fin)[index] as Task;
      if (field === 'name' || field === 'needs' || field === 'type' || field === 'description') continue;
      const visible = group === 'tasks' ? upstreamMain.get(task.name) : new Set([...mainNames, ...(upstreamFinally.get(task.name) ?? [])]);
      site = { scope: 'pipeline', roots: everywhere, visibleTasks: visible ?? new Set(), task: task.name, bare: field === 'if' && path.length === 4 };
    } else if (group === 'outputs') {
      site = { scope: 'pipeline', roots: everywhere, visibleTasks: allTasks };
    } else if (group === 'concurrency') {
      site = { scope: 'pipeline', roots: ['inputs', 'event', 'run', 'trigger'] };
    } else {
      // A bad duration is already reported as one.
      if (path[path.length - 1] !== 'timeout') notEvaluated(ctx, def, path, text);
      continue;
    }
    checkText(ctx, def, path, text, site);
  }
}

function checkTrigger(ctx: RuleContext, def: Definition<Trigger>): void {
  const spec = def.value.spec;
  const triggerSite: Site = { scope: 'trigger', roots: scopeVariables('trigger') };
  (spec.pipelines ?? []).forEach((p, i) => {
    for (const [path, text] of templateStrings(p.inputs ?? {}, ['spec', 'pipelines', i, 'inputs'])) checkText(ctx, def, path, text, triggerSite);
  });
  if (spec.dedupe !== undefined) checkText(ctx, def, ['spec', 'dedupe'], spec.dedupe, triggerSite);
  (spec.filters ?? []).forEach((f, i) => {
    if (f.expr !== undefined) checkText(ctx, def, ['spec', 'filters', i, 'expr'], f.expr, { scope: 'filter', roots: scopeVariables('filter'), bare: true });
  });
  const evaluated = (path: Path) => path[1] === 'dedupe' || (path[1] === 'pipelines' && path[3] === 'inputs') || (path[1] === 'filters' && path[3] === 'expr');
  for (const [path, text] of templateStrings(spec, ['spec'])) if (!evaluated(path)) notEvaluated(ctx, def, path, text);
}

function checkText(ctx: RuleContext, def: Definition, path: Path, text: string, site: Site): void {
  let sources: string[];
  if (site.bare && !hasTemplate(text)) {
    sources = [text.trim()];
  } else {
    if (!hasTemplate(text)) return;
    let parts;
    try {
      parts = parseTemplate(text);
    } catch (error) {
      ctx.report(def, path, 'expr-syntax', error instanceof TemplateSyntaxError ? error.message : String(error));
      return;
    }
    if (site.bare && !soleExpression(parts)) {
      ctx.report(def, path, 'expr-condition', 'a condition is one whole expression, with no text around `${{ }}`: write e.g. `${{ inputs.env == \'prod\' }}` or just `inputs.env == \'prod\'`');
      return;
    }
    sources = parts.flatMap((p) => (typeof p === 'string' ? [] : [p.source]));
  }
  for (const source of sources) checkExpression(ctx, def, path, source, site);
}

function checkExpression(ctx: RuleContext, def: Definition, path: Path, source: string, site: Site): void {
  let compiled;
  try {
    compiled = compileExpression(source, site.scope);
  } catch (error) {
    const message = error instanceof ExpressionSyntaxError ? error.message : String(error);
    ctx.report(def, path, 'expr-syntax', `\`${source}\` does not parse: ${message}`);
    return;
  }
  const where = site.task ? ` in task \`${site.task}\`` : '';
  const reported = new Set<string>();
  const report = (rule: string, message: string) => {
    if (reported.has(message)) return;
    reported.add(message);
    ctx.report(def, path, rule, message);
  };
  for (const { path: ref } of collectReferences(compiled.ast)) {
    const [root, name] = ref;
    if (!root) continue;
    if (site.scope === 'filter' && EVENT_ONLY.includes(root)) {
      report('expr-unknown-ref', `use \`event.${root}\` for the event's ${root} in a filter expression (\`body\`, \`headers\`, \`labels\` and \`subject\` are also available directly)`);
      continue;
    }
    if (!scopeVariables(site.scope).includes(root)) continue; // macro variables such as `c` in `list.exists(c, …)`
    if (!site.roots.includes(root)) {
      report('expr-unknown-ref', `\`${root}\` is not available here${where}; expressions here can read: ${site.roots.join(', ')}`);
      continue;
    }
    if (name === undefined) continue;
    if (def.kind === 'Pipeline') {
      const problem = pipelineReference(def as Definition<Pipeline>, ctx, ref, site);
      if (problem) report(problem.rule, problem.message);
      continue;
    }
    if (root === 'event' && !EVENT_FIELDS.includes(name)) report('expr-unknown-ref', `\`event.${name}\` does not exist; an event has: ${EVENT_FIELDS.join(', ')}`);
    if (root === 'trigger' && name !== 'name') report('expr-unknown-ref', `\`trigger.${name}\` does not exist; use \`trigger.name\``);
  }
  if (compiled.checkError && reported.size === 0) {
    const unknown = /^Unknown variable: (\S+)/.exec(compiled.checkError);
    if (unknown) report('expr-unknown-ref', `\`${unknown[1]}\` is not defined${where}; expressions here can read: ${site.roots.join(', ')}`);
    else report('expr-type', `\`${source}\`: ${compiled.checkError}`);
  }
}

function pipelineReference(def: Definition<Pipeline>, ctx: RuleContext, ref: string[], site: Site): { rule: string; message: string } | undefined {
  const spec = def.value.spec;
  const [root, name, field, output] = ref as [string, string, string | undefined, string | undefined];
  const where = site.task ? ` in task \`${site.task}\`` : '';
  switch (root) {
    case 'inputs': {
      const names = (spec.inputs ?? []).map((i) => i.name);
      if (!names.includes(name)) return { rule: 'expr-unknown-ref', message: `\`inputs.${name}\` is not declared; add it under \`spec.inputs\`${suggestion(name, names)}` };
      return undefined;
    }
    case 'contexts': {
      const names = (spec.contexts ?? []).map((c) => c.name);
      if (!names.includes(name)) return { rule: 'expr-unknown-ref', message: `\`contexts.${name}\` is not declared; add it under \`spec.contexts\`${suggestion(name, names)}` };
      return undefined;
    }
    case 'tasks': {
      const all = [...spec.tasks, ...(spec.finally ?? [])];
      const task = all.find((t) => t.name === name);
      if (!task) return { rule: 'expr-unknown-ref', message: `\`tasks.${name}\`: this pipeline has no task \`${name}\`${suggestion(name, all.map((t) => t.name))}` };
      if (!site.visibleTasks?.has(name)) {
        if (!site.visibleTasks) return { rule: 'expr-unknown-ref', message: `task results are not available here; \`tasks.${name}\` cannot be read` };
        return { rule: 'expr-not-upstream', message: `\`tasks.${name}\` is read${where}, but \`${name}\` is not upstream of it; add \`${name}\` to its \`needs\`` };
      }
      if (field === undefined) return undefined;
      if (!TASK_FIELDS.includes(field)) return { rule: 'expr-unknown-ref', message: `\`tasks.${name}.${field}\` does not exist; use \`tasks.${name}.outputs.NAME\` or \`tasks.${name}.status\`` };
      if (field === 'outputs' && output !== undefined) {
        const outputs = taskOutputs(task, ctx);
        if (outputs && !outputs.includes(output)) {
          return { rule: 'expr-unknown-ref', message: `task \`${name}\` declares no output \`${output}\`${outputs.length ? `; its outputs are: ${outputs.join(', ')}` : ' (it has no outputs)'}` };
        }
      }
      return undefined;
    }
    case 'event':
      return EVENT_FIELDS.includes(name) ? undefined : { rule: 'expr-unknown-ref', message: `\`event.${name}\` does not exist; an event has: ${EVENT_FIELDS.join(', ')}` };
    case 'run':
      return RUN_FIELDS.includes(name) ? undefined : { rule: 'expr-unknown-ref', message: `\`run.${name}\` does not exist; a run has: ${RUN_FIELDS.join(', ')}` };
    case 'trigger':
      return name === 'name' ? undefined : { rule: 'expr-unknown-ref', message: `\`trigger.${name}\` does not exist; use \`trigger.name\`` };
    default:
      return undefined;
  }
}

/** Declared outputs of a task; undefined when unknown (a pipeline task whose pipeline is missing). */
function taskOutputs(task: Task, ctx: RuleContext): string[] | undefined {
  const type = task.type ?? 'local';
  if (type === 'approval') return APPROVAL_OUTPUTS;
  if (type === 'pipeline') {
    const target = task.pipeline ? ctx.pipelines.get(task.pipeline) : undefined;
    return target ? (target.value.spec.outputs ?? []).map((o) => o.name) : undefined;
  }
  return (task.outputs ?? []).map((o) => o.name);
}

/** For each task, the set of tasks upstream of it through `needs` (transitively). */
function upstream(tasks: Task[]): Map<string, Set<string>> {
  const needs = new Map(tasks.map((t) => [t.name, t.needs ?? []]));
  const memo = new Map<string, Set<string>>();
  const visit = (name: string, trail: Set<string>): Set<string> => {
    const hit = memo.get(name);
    if (hit) return hit;
    const out = new Set<string>();
    for (const need of needs.get(name) ?? []) {
      if (trail.has(need) || !needs.has(need)) continue; // cycles and unknown needs are reported elsewhere
      out.add(need);
      for (const n of visit(need, new Set([...trail, need]))) out.add(n);
    }
    memo.set(name, out);
    return out;
  };
  for (const t of tasks) visit(t.name, new Set([t.name]));
  return memo;
}
