// The Actuator kind: where tasks run. Exactly one connection block (local, ssh, docker,
// kubernetes, agent) is allowed; that rule is checked semantically so errors stay readable.
import { Type, type Static } from '@sinclair/typebox';
import { definitionSchema, SecretRef } from './common.js';

const strict = { additionalProperties: false } as const;

export const ActuatorTypes = ['local', 'ssh', 'docker', 'kubernetes', 'agent'] as const;
export type ActuatorType = (typeof ActuatorTypes)[number];

export const ActuatorSpec = Type.Object(
  {
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Pipelines select actuators by tags.' })),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, description: 'Tasks at once on this actuator.' })),
    local: Type.Optional(Type.Object({ shell: Type.Optional(Type.String()), workdir: Type.Optional(Type.String()) }, strict)),
    ssh: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1 }),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          user: Type.String({ minLength: 1 }),
          privateKey: Type.Optional(SecretRef),
          // Only with privateKey (rule actuator-connection): it decrypts an encrypted key.
          passphrase: Type.Optional(SecretRef),
          password: Type.Optional(SecretRef),
          hostKey: Type.Optional(Type.String({ description: 'The server public key line, e.g. `ssh-ed25519 AAAA…`.' })),
        },
        strict,
      ),
    ),
    docker: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ description: '`unix:///var/run/docker.sock`, `tcp://host:2376` or `ssh://user@host`.' })),
          tls: Type.Optional(
            Type.Object({ ca: Type.Optional(SecretRef), cert: Type.Optional(SecretRef), key: Type.Optional(SecretRef) }, strict),
          ),
          ssh: Type.Optional(Type.Object({ privateKey: Type.Optional(SecretRef), password: Type.Optional(SecretRef) }, strict)),
        },
        strict,
      ),
    ),
    kubernetes: Type.Optional(
      Type.Object(
        {
          kubeconfig: Type.Optional(SecretRef),
          inCluster: Type.Optional(Type.Boolean()),
          context: Type.Optional(Type.String()),
          namespace: Type.Optional(Type.String()),
        },
        strict,
      ),
    ),
    agent: Type.Optional(
      Type.Object(
        {
          id: Type.String({ minLength: 1 }),
          token: Type.Optional(SecretRef),
        },
        { ...strict, description: 'An `eventops agent --id ID` that dials out. It authenticates with a token issued by `eventops tokens create --agent ID` (stored hashed), or with the value of `token`\'s secret.' },
      ),
    ),
  },
  strict,
);

export const Actuator = definitionSchema('Actuator', ActuatorSpec, 'Where tasks run.');
export type Actuator = Static<typeof Actuator>;
