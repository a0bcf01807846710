// An actuator has exactly one way to reach it, and what that way needs to connect.
import { ActuatorTypes, type Actuator } from '../../language/index.js';
import type { Rule } from '../context.js';

export const actuatorConnections: Rule = (ctx) => {
  for (const def of ctx.actuators) {
    const spec = def.value.spec as Actuator['spec'];
    const present = ActuatorTypes.filter((t) => spec[t] !== undefined);
    if (present.length !== 1) {
      ctx.report(
        def,
        present.length === 0 ? ['spec'] : ['spec', present[1] as string],
        'actuator-connection',
        present.length === 0
          ? `an Actuator needs exactly one of: ${ActuatorTypes.join(', ')} (use \`local: {}\` for the worker's own shell)`
          : `an Actuator has exactly one connection, but this one has ${present.join(' and ')}; split it into ${present.length} actuators`,
        { at: 'key' },
      );
    }
    if (spec.ssh && !spec.ssh.privateKey && !spec.ssh.password) {
      ctx.report(def, ['spec', 'ssh'], 'actuator-connection', 'an ssh actuator needs `privateKey: { secret: NAME }` or `password: { secret: NAME }`');
    }
    if (spec.ssh?.passphrase && !spec.ssh.privateKey) {
      ctx.report(def, ['spec', 'ssh', 'passphrase'], 'actuator-connection', 'a `passphrase` decrypts a `privateKey`, and this ssh actuator has none; add `privateKey: { secret: NAME }` or remove `passphrase`', { at: 'key' });
    }
    if (spec.ssh && !spec.ssh.hostKey) {
      ctx.report(def, ['spec', 'ssh'], 'ssh-host-key', 'no `hostKey` is pinned, so eventops refuses to connect (its tasks fail, showing the key the server offered); add the server\'s public key line (`ssh-keyscan HOST`)', { severity: 'warning' });
    }
    if (spec.kubernetes && !spec.kubernetes.kubeconfig && !spec.kubernetes.inCluster) {
      ctx.report(def, ['spec', 'kubernetes'], 'actuator-connection', 'a kubernetes actuator needs `kubeconfig: { secret: NAME }` or `inCluster: true`');
    }
  }
};
