// The Pipeline kind: what runs. Tasks form a DAG through `needs`; `finally` tasks run after
// the DAG whatever its outcome. Rules that span fields (a docker task needs an image, needs must
// exist, no cycles) are checked by the semantic validator, not here.
import { Type, type Static } from '@sinclair/typebox';
import { definitionSchema, Duration, Name, SecretRef, Selector, VariableName } from './common.js';
import { Notify } from './notify.js';

const strict = { additionalProperties: false } as const;

export const TaskTypes = ['local', 'ssh', 'docker', 'kubernetes', 'agent', 'pipeline', 'approval'] as const;
export type TaskType = (typeof TaskTypes)[number];

export const InputTypes = ['string', 'number', 'integer', 'boolean', 'object', 'array'] as const;
export type InputType = (typeof InputTypes)[number];

/** Whether `value` is of the input type `type` (a number must be finite: JSON has no Infinity). */
export function fitsInputType(type: InputType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
  }
}

export const PipelineInput = Type.Object(
  {
    name: VariableName,
    type: Type.Optional(Type.Union(InputTypes.map((t) => Type.Literal(t)), { description: 'Default: string.' })),
    description: Type.Optional(Type.String()),
    required: Type.Optional(Type.Boolean()),
    enum: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1 })),
    default: Type.Optional(Type.Unknown()),
  },
  strict,
);
export type PipelineInput = Static<typeof PipelineInput>;

export const PipelineContext = Type.Object(
  {
    name: VariableName,
    type: Type.Optional(Type.Union(InputTypes.map((t) => Type.Literal(t)))),
    description: Type.Optional(Type.String()),
    default: Type.Optional(Type.Unknown()),
  },
  strict,
);
export type PipelineContext = Static<typeof PipelineContext>;

export const TaskOutput = Type.Object(
  {
    name: VariableName,
    fromEnv: Type.Optional(Type.String({ minLength: 1, description: 'Read the value of this environment variable when the commands end.' })),
    fromFile: Type.Optional(Type.String({ minLength: 1, description: 'Read the content of this file (relative to the work folder).' })),
    value: Type.Optional(Type.String({ description: 'A literal or `${{ }}` template.' })),
    setToContext: Type.Optional(Type.String({ description: 'Also store the value in this run-wide context.' })),
    description: Type.Optional(Type.String()),
  },
  strict,
);
export type TaskOutput = Static<typeof TaskOutput>;

export const Task = Type.Object(
  {
    name: Name,
    type: Type.Optional(Type.Union(TaskTypes.map((t) => Type.Literal(t)), { description: 'Default: local.' })),
    description: Type.Optional(Type.String()),
    needs: Type.Optional(Type.Array(Type.String())),
    if: Type.Optional(Type.String({ description: 'Run only when this expression is true; `${{ }}` is optional.' })),
    actuatorSelector: Type.Optional(Selector),
    image: Type.Optional(Type.String({ minLength: 1 })),
    resources: Type.Optional(
      Type.Object(
        {
          cpu: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: 'Cores (`0.5`, `2`) or millicores (`500m`).' })),
          memory: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: 'Bytes, or with a suffix: `512Mi`, `1Gi`, `500M`.' })),
        },
        { ...strict, description: 'Limits of the task\'s container (docker, kubernetes, or an agent task with an image).' },
      ),
    ),
    shell: Type.Optional(Type.String()),
    workdir: Type.Optional(Type.String()),
    commands: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.Union([Type.String(), SecretRef]))),
    outputs: Type.Optional(Type.Array(TaskOutput)),
    timeout: Type.Optional(Duration),
    retries: Type.Optional(
      Type.Object({ limit: Type.Integer({ minimum: 0, maximum: 100 }), backoff: Type.Optional(Duration) }, strict),
    ),
    pipeline: Type.Optional(Name),
    inputs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    approvers: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  strict,
);
export type Task = Static<typeof Task>;

export const PipelineSpec = Type.Object(
  {
    description: Type.Optional(Type.String()),
    inputs: Type.Optional(Type.Array(PipelineInput)),
    contexts: Type.Optional(Type.Array(PipelineContext)),
    actuatorSelector: Type.Optional(Selector),
    timeout: Type.Optional(Duration),
    concurrency: Type.Optional(
      Type.Object({ group: Type.String({ minLength: 1 }), cancelInProgress: Type.Optional(Type.Boolean()) }, strict),
    ),
    tasks: Type.Array(Task, { minItems: 1 }),
    finally: Type.Optional(Type.Array(Task)),
    outputs: Type.Optional(Type.Array(Type.Object({ name: VariableName, value: Type.String(), description: Type.Optional(Type.String()) }, strict))),
    notify: Type.Optional(Notify),
  },
  strict,
);
export type PipelineSpec = Static<typeof PipelineSpec>;

export const Pipeline = definitionSchema('Pipeline', PipelineSpec, 'What runs: a DAG of tasks.');
export type Pipeline = Static<typeof Pipeline>;
