// Building blocks shared by every kind of the v1 definition language: names, durations,
// secret references and document metadata. Each schema here is plain JSON Schema (TypeBox),
// so the published `schemas/*.schema.json` files and the TypeScript types come from one place.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const API_VERSION = 'eventops.dev/v1';

/** Names of actuators, pipelines, triggers and tasks: DNS-label style, at most 63 characters. */
export const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const Name = Type.String({
  pattern: NAME_PATTERN,
  maxLength: 63,
  description: 'Lowercase letters, digits and `-`; starts and ends with a letter or digit; at most 63 characters.',
});

/** Names of inputs, outputs and contexts: usable as identifiers in `${{ }}` expressions. */
export const VARIABLE_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]*$';
export const VariableName = Type.String({
  pattern: VARIABLE_PATTERN,
  maxLength: 63,
  description: 'Letters, digits, `_` and `-`; starts with a letter or `_`.',
});

export const Duration = Type.String({
  description: 'A duration such as `30s`, `10m`, `1h` or `1h30m` (units: ms, s, m, h, d).',
});

export const SecretRef = Type.Object(
  {
    secret: Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      description: 'Name of a secret, resolved at run time (environment `EVENTOPS_SECRET_<NAME>`, a mounted folder or a Kubernetes secret).',
    }),
  },
  { additionalProperties: false, description: 'A reference to a secret by name; never the value itself.' },
);
export type SecretRef = Static<typeof SecretRef>;

export const Metadata = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: false },
);
export type Metadata = Static<typeof Metadata>;

export const Selector = Type.Object(
  { tags: Type.Array(Type.String({ minLength: 1 }), { description: 'Every tag must be on the actuator.' }) },
  { additionalProperties: false },
);
export type Selector = Static<typeof Selector>;

/** The envelope every stored kind shares: apiVersion, kind, metadata and the kind's spec. */
export function definitionSchema<K extends string, S extends TSchema>(kind: K, spec: S, description: string) {
  return Type.Object(
    { apiVersion: Type.Literal(API_VERSION), kind: Type.Literal(kind), metadata: Metadata, spec },
    { additionalProperties: false, title: `eventops ${kind}`, description },
  );
}
